/** What every router gets: the ports, the logger, metrics, config and an event bus. */
import { EventEmitter } from 'node:events';
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import type { ServerMetrics } from './metrics.js';
import type { AuditEntry, AuditInput, DeviceRecord, ReleaseRecord, ReportRecord, StateStore } from './state/index.js';
import type { ObjectStore } from './storage/port.js';
import type { ReleaseVerifier } from './releases/verify.js';

export interface ServerConfig {
  /** JSON/CBOR request body limit for management and device endpoints. */
  bodyLimitBytes: number;
  /** Largest payload accepted by PUT /api/v1/payloads/{sha256}. */
  payloadMaxBytes: number;
  /** Largest envelope accepted by POST /api/v1/releases. */
  envelopeMaxBytes: number;
  /** Expiry of presigned download URLs; must outlast the slowest expected download. */
  presignExpirySeconds: number;
  /** Externally visible base URL (for absolute download links), if known. */
  publicUrl?: string;
  /** Management API requests per second per token (sustained) and burst. */
  tokenRatePerSecond: number;
  tokenBurst: number;
}

/**
 * Device API settings a deployment (or a test) chooses at start (`startServer({ deviceApi })`, CLI
 * flags `--poll-interval`, `--poll-jitter`, `--delta-encoder`, env `SUIT_POLL_INTERVAL`, …).
 * Unset fields keep the device API defaults (device-api/service.ts DEFAULT_DEVICE_API).
 */
export interface DeviceApiSettings {
  /** Poll interval told to idle devices, seconds. */
  pollIntervalSeconds?: number;
  /** Poll interval while an update is in progress, seconds. */
  activePollIntervalSeconds?: number;
  /** ± fraction applied to every poll interval (0..0.9). */
  pollJitter?: number;
  /** Where delta encoding runs: a worker thread (default) or in-process between event-loop turns. */
  deltaEncoder?: 'worker' | 'inline';
  /** Per device token (sustained requests per second, burst). */
  tokenLimit?: { ratePerSecond: number; burst: number };
  /** Per device id on the unauthenticated auth endpoints. */
  authLimit?: { ratePerSecond: number; burst: number };
  /** Event-loop delay p99 (ms) above which idle poll answers carry Retry-After and a doubled interval. */
  loadDelayMs?: number;
}

export const DEFAULT_CONFIG: ServerConfig = {
  bodyLimitBytes: 1024 * 1024,
  payloadMaxBytes: 4 * 1024 * 1024 * 1024,
  envelopeMaxBytes: 256 * 1024,
  presignExpirySeconds: 6 * 3600,
  tokenRatePerSecond: 50,
  tokenBurst: 200,
};

/** Domain events other parts react to (e.g. delta scheduling on `release.created`). */
export interface ServerEventMap {
  'release.created': [ReleaseRecord];
  'release.deprecated': [ReleaseRecord];
  'device.registered': [DeviceRecord];
  'device.claimed': [DeviceRecord];
  'report.recorded': [ReportRecord];
}

export class ServerEvents extends EventEmitter<ServerEventMap> {}

export interface ServerContext {
  store: StateStore;
  objects: ObjectStore;
  log: Logger;
  metrics: ServerMetrics;
  config: ServerConfig;
  events: ServerEvents;
  /** Appends to the hash-chained audit log (joins the caller's transaction when given one). */
  audit(entry: AuditInput, tx?: StateStore): Promise<AuditEntry>;
  /** True once graceful shutdown began (readyz answers 503). */
  shuttingDown(): boolean;
  /** Envelope decode/verify/summary and key parsing (manifest/ adapter; tests inject fakes). */
  verifier: ReleaseVerifier;
  /** Extension points other parts fill in when their router is created. */
  hooks: ServerHooks;
  /** Device API settings chosen at start (read when the device router is created). */
  deviceApi?: DeviceApiSettings;
}

export interface PendingUpdateView { releaseId: string; sequence: bigint; source: string }

export interface ServerHooks {
  /**
   * What the device would get on its next poll (rollouts/ sets this). Default: the latest
   * non-deprecated release of its class if newer than what it runs (source 'latest').
   */
  pendingUpdate?(device: DeviceRecord, store: StateStore): Promise<PendingUpdateView | null>;
  /** Called inside the release-creation transaction (e.g. to schedule deltas). */
  onReleaseCreated?(release: ReleaseRecord, tx: StateStore): Promise<void>;
  /** Called on graceful close before the stores close (flush batched writes, stop timers). */
  beforeClose?(): Promise<void>;
}

/** A minimal OpenAPI 3.1 fragment contributed by a mounted router. */
export interface OpenApiFragment {
  paths?: Record<string, unknown>;
  schemas?: Record<string, unknown>;
  tags?: { name: string; description?: string }[];
}

/** A router mounted under `path` (see mounts.ts). */
export interface Mount {
  path: string;
  router(ctx: ServerContext): Router;
  openapi?: OpenApiFragment;
  /**
   * Hot GET routes the app registers ahead of everything else (access-log middleware, other routers):
   * they must do their own metrics and error forwarding (`next(err)` still reaches the error handler).
   */
  early?(ctx: ServerContext): { path: string; handler: RequestHandler }[];
}
