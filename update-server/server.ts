/**
 * Wiring: open the stores, build the context and the app, and start/stop an HTTP server gracefully.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Express } from 'express';
import { pino, type Logger } from 'pino';
import { createApp } from './app.js';
import { ensureAdminToken } from './auth/tokens.js';
import { DEFAULT_CONFIG, ServerEvents, type DeviceApiSettings, type Mount, type ServerConfig, type ServerContext } from './context.js';
import { createMetrics } from './metrics.js';
import { manifestVerifier, type ReleaseVerifier } from './releases/verify.js';
import { openSqliteStore, type StateStore } from './state/index.js';
import { FsObjectStore, S3ObjectStore, type ObjectStore, type S3Options } from './storage/index.js';
import { UpdateError } from '../manifest/index.js';

export interface ServerOptions {
  /** Data directory: `state.db` and `objects/` (and S3 upload staging). Required unless both stores are given. */
  dataDir?: string;
  store?: StateStore;
  objects?: ObjectStore;
  /** Use S3/MinIO for objects instead of DATA/objects. */
  s3?: Omit<S3Options, 'stagingDir'>;
  /** A pino logger, or a level (default 'info'; 'silent' in tests). */
  logger?: Logger | string;
  config?: Partial<ServerConfig>;
  /** SUIT_ADMIN_TOKEN: make this secret an admin token instead of generating one. */
  adminToken?: string;
  verifier?: ReleaseVerifier;
  mounts?: readonly Mount[];
  /** Device API settings: poll interval and jitter, delta encoder, rate limits, load threshold. */
  deviceApi?: DeviceApiSettings;
}

export interface CreatedServer {
  app: Express;
  ctx: ServerContext;
  /** The admin secret made on first start (print it once), or null. */
  initialAdminToken: string | null;
  /** Marks the server as shutting down (readyz answers 503). */
  drain(): void;
  /** Closes the stores (not an HTTP server; see startServer). */
  close(): Promise<void>;
}

export async function createServer(opts: ServerOptions = {}): Promise<CreatedServer> {
  const log = typeof opts.logger === 'object' ? opts.logger : pino({ level: opts.logger ?? 'info' });
  if (!opts.dataDir && (!opts.store || !opts.objects)) throw new UpdateError('USAGE', 'a data directory is required');
  const store = opts.store ?? (await openSqliteStore({ file: join(opts.dataDir!, 'state.db') }));
  let objects: ObjectStore;
  try {
    objects = opts.objects ?? (opts.s3
      ? await S3ObjectStore.open({ ...opts.s3, stagingDir: join(opts.dataDir!, 'uploads') })
      : await FsObjectStore.open(join(opts.dataDir!, 'objects')));
  } catch (e) {
    if (!opts.store) await store.close();
    throw e;
  }
  let shuttingDown = false;
  const ctx: ServerContext = {
    store, objects, log,
    metrics: createMetrics({ defaultMetrics: false }),
    config: { ...DEFAULT_CONFIG, ...opts.config },
    events: new ServerEvents(),
    audit: (entry, tx) => (tx ?? store).appendAudit(entry),
    shuttingDown: () => shuttingDown,
    verifier: opts.verifier ?? manifestVerifier,
    hooks: {},
    ...(opts.deviceApi ? { deviceApi: validDeviceApiSettings(opts.deviceApi) } : {}),
  };
  const issued = await ensureAdminToken(store, opts.adminToken);
  const app = createApp(ctx, opts.mounts);
  let closed = false;
  return {
    app, ctx, initialAdminToken: issued?.secret ?? null,
    drain() {
      shuttingDown = true;
    },
    async close() {
      shuttingDown = true;
      if (closed) return;
      closed = true;
      try {
        await ctx.hooks.beforeClose?.();
      } catch (e) {
        log.warn({ err: e }, 'close hook failed');
      }
      await objects.close();
      await store.close();
    },
  };
}

export interface StartOptions extends ServerOptions {
  port?: number;
  host?: string;
  /** Longest wait for in-flight requests on close. Default 10 s. */
  shutdownGraceMs?: number;
}

export interface RunningServer extends Omit<CreatedServer, 'close' | 'drain'> {
  url: string;
  port: number;
  http: Server;
  /** Graceful: stop accepting, let in-flight requests finish (up to the grace), then close the stores. */
  close(): Promise<void>;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const created = await createServer(opts);
  const host = opts.host ?? '127.0.0.1';
  const http: Server = await new Promise((resolve, reject) => {
    const s = created.app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.on('error', reject);
  });
  http.keepAliveTimeout = 5000;
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | null = null;
  return {
    ...created, url, port, http,
    close() {
      closing ??= (async () => {
        // readyz turns 503 first so a load balancer drains us.
        created.drain();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => { http.closeAllConnections(); }, opts.shutdownGraceMs ?? 10_000);
          timer.unref();
          // Keep-alive connections become idle as their last response ends; close them as they do.
          const sweep = setInterval(() => http.closeIdleConnections(), 50);
          sweep.unref();
          http.close(() => { clearTimeout(timer); clearInterval(sweep); resolve(); });
          http.closeIdleConnections();
        });
        await created.close();
        created.ctx.log.info('server stopped');
      })();
      return closing;
    },
  };
}

function validDeviceApiSettings(s: DeviceApiSettings): DeviceApiSettings {
  const pos = (v: number | undefined, what: string, max = Number.MAX_SAFE_INTEGER): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0 && v <= max)) throw new UpdateError('USAGE', `${what} must be a positive number${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`);
  };
  pos(s.pollIntervalSeconds, 'the poll interval', 30 * 86400);
  pos(s.activePollIntervalSeconds, 'the active poll interval', 30 * 86400);
  pos(s.loadDelayMs, 'the load threshold');
  if (s.pollJitter !== undefined && !(s.pollJitter >= 0 && s.pollJitter <= 0.9)) throw new UpdateError('USAGE', 'the poll jitter must be between 0 and 0.9');
  if (s.deltaEncoder !== undefined && s.deltaEncoder !== 'worker' && s.deltaEncoder !== 'inline') throw new UpdateError('USAGE', "the delta encoder is 'worker' or 'inline'");
  for (const [k, b] of [['tokenLimit', s.tokenLimit], ['authLimit', s.authLimit]] as const) {
    if (b) { pos(b.ratePerSecond, `${k}.ratePerSecond`); pos(b.burst, `${k}.burst`); }
  }
  return { ...s };
}
