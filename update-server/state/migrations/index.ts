import type { Kysely } from 'kysely';
import * as m0001 from './0001_core.js';
import * as m0002 from './0002_rollouts_device_api.js';
import * as m0003 from './0003_rollout_population.js';
import * as m0004 from './0004_sequence_u64.js';

/** One schema step. `up` runs inside a transaction; it must use portable SQL (SQLite now, PostgreSQL later). */
export interface SchemaMigration {
  /** Unique, sortable, never changed once released: `NNNN_short_name`. */
  readonly name: string;
  up(db: Kysely<any>): Promise<void>;
}

/**
 * THE ordered list of migrations. To add one: create `NNNN_name.ts` next to this file exporting
 * `up(db)`, import it here and append ONE line at the end. Never edit or reorder a released entry.
 * Names must sort in list order (zero-padded number prefix); the runner checks this.
 */
export const migrations: readonly SchemaMigration[] = [
  { name: '0001_core', up: m0001.up },
  { name: '0002_rollouts_device_api', up: m0002.up },
  { name: '0003_rollout_population', up: m0003.up },
  { name: '0004_sequence_u64', up: m0004.up },
];
