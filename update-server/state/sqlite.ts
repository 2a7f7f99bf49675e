/** The embedded default state backend: SQLite through better-sqlite3, WAL, foreign keys on. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { UpdateError } from '../../manifest/errors.js';
import { KyselyStateStore } from './kysely-store.js';
import { migrateToLatest } from './migrate.js';
import type { SchemaMigration } from './migrations/index.js';
import type { StateStore } from './port.js';
import type { CoreTables } from './types.js';

export interface SqliteStoreOptions {
  /** Database file, or ':memory:'. */
  file: string;
  /** Override the migration list (tests only). */
  migrations?: readonly SchemaMigration[];
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<StateStore> {
  let raw: Database.Database;
  try {
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
    raw = new Database(opts.file);
    // WAL: readers never block the writer; synchronous=NORMAL in WAL mode keeps every committed
    // transaction across a process kill (only an OS crash may lose the last ones).
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new UpdateError('STORAGE_UNAVAILABLE', `cannot open state database ${opts.file}: ${(e as Error).message}`, { cause: e });
  }
  const db = new Kysely<CoreTables>({ dialect: new SqliteDialect({ database: raw }) });
  let closed = false;
  const store = new KyselyStateStore(db, 'sqlite', async () => {
    if (closed) return;
    closed = true;
    await db.destroy();
  });
  try {
    await migrateToLatest(db, opts.migrations);
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
