export * from './port.js';
export type { CoreTables } from './types.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { migrateToLatest, MIGRATIONS_TABLE } from './migrate.js';
export { migrations, type SchemaMigration } from './migrations/index.js';
export { auditHash, canonicalJson, GENESIS_HASH } from './audit.js';
export { KyselyStateStore } from './kysely-store.js';
export { verifyAuditChain, type AuditVerifyResult } from './audit-verify.js';
