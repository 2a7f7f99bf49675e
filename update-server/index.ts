/** The public face of update-server/ (the fleet server). Other parts import only from here. */
export { createServer, startServer, type ServerOptions, type StartOptions, type CreatedServer, type RunningServer } from './server.js';
export { createApp, mountRouters } from './app.js';
export type { ServerContext, ServerConfig, DeviceApiSettings, ServerHooks, Mount, OpenApiFragment, PendingUpdateView } from './context.js';
export { DEFAULT_CONFIG, ServerEvents } from './context.js';
export { recordReport, type ReportInput } from './services/reports.js';
export { verifyAuditChain, openSqliteStore, type StateStore, type AuditVerifyResult, type AuditEntry, type AuditInput } from './state/index.js';
export type { ObjectStore } from './storage/index.js';
export { FsObjectStore, S3ObjectStore } from './storage/index.js';
export { manifestVerifier, type ReleaseVerifier } from './releases/verify.js';
export { buildOpenApi } from './openapi.js';
