import { Migrator, type Kysely, type Migration } from 'kysely';
import { UpdateError } from '../../manifest/errors.js';
import { migrations as defaultMigrations, type SchemaMigration } from './migrations/index.js';

/** Name of the table recording applied migrations (one row per applied `SchemaMigration.name`). */
export const MIGRATIONS_TABLE = 'migrations';

/**
 * Applies every pending migration in list order, each in its own transaction. Refuses a database
 * that has migrations this build does not know (a downgrade) instead of guessing.
 */
export async function migrateToLatest(db: Kysely<any>, list: readonly SchemaMigration[] = defaultMigrations): Promise<string[]> {
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1]!.name >= list[i]!.name) {
      throw new UpdateError('INTERNAL', `migration list out of order at ${list[i]!.name}`);
    }
  }
  const record: Record<string, Migration> = {};
  for (const m of list) record[m.name] = { up: m.up };
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => record },
    migrationTableName: MIGRATIONS_TABLE,
    migrationLockTableName: `${MIGRATIONS_TABLE}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new UpdateError('STORAGE_UNAVAILABLE', `schema migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
