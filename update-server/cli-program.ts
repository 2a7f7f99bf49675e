/**
 * `suit-server` command line (commander). `main(argv, io)` is testable; cli.ts runs it for the bin.
 *   suit-server start [--data DIR] [--port N] [--host H] [--s3-* ...] [--json]
 *   suit-server audit verify [--data DIR] [--json]
 */
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ERRORS, UpdateError, toUpdateError } from '../manifest/index.js';
import { startServer, type RunningServer } from './server.js';
import { openSqliteStore, verifyAuditChain } from './state/index.js';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
  /** Resolves when the process should stop (SIGINT/SIGTERM); tests pass their own. */
  waitForStop(): Promise<void>;
  /** Called with the running server (tests use it to inspect). */
  onStarted?(s: RunningServer): void;
}

export const processIo: CliIo = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  env: process.env,
  waitForStop: () => new Promise((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  }),
};

const DEFAULT_DATA = '.data';

function intOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UpdateError('USAGE', `not a port number: ${v}`);
  return n;
}

function numOption(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UpdateError('USAGE', `not a non-negative number: ${v}`);
  return n;
}

function envNumber(v: string | undefined): number | undefined {
  return v === undefined || v === '' ? undefined : numOption(v);
}

/** Runs the CLI; returns the exit status (0 ok, else the error table's exit code). */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let json = false;
  const program = new Command()
    .name('suit-server')
    .description('Fleet update server for SUIT-signed firmware (never holds a signing key).')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError();

  program.command('start')
    .description('Run the server (SQLite state + DATA/objects, or S3/MinIO for objects)')
    .option('--data <dir>', 'data directory (state.db, objects/)', io.env['SUIT_DATA_DIR'] ?? DEFAULT_DATA)
    .option('--port <n>', 'TCP port', intOption, Number(io.env['SUIT_PORT'] ?? 8080))
    .option('--host <h>', 'listen address', io.env['SUIT_HOST'] ?? '127.0.0.1')
    .addOption(new Option('--s3-endpoint <url>', 'S3/MinIO endpoint (enables S3 objects)').env('SUIT_S3_ENDPOINT'))
    .addOption(new Option('--s3-bucket <name>', 'bucket (≥ 3 characters)').env('SUIT_S3_BUCKET'))
    .addOption(new Option('--s3-access-key <key>', 'access key').env('SUIT_S3_ACCESS_KEY'))
    .addOption(new Option('--s3-secret-key <key>', 'secret key (prefer the env variable)').env('SUIT_S3_SECRET_KEY'))
    .addOption(new Option('--s3-region <region>', 'region').env('SUIT_S3_REGION').default('us-east-1'))
    .option('--log-level <level>', 'pino level', io.env['SUIT_LOG_LEVEL'] ?? 'info')
    .option('--poll-interval <seconds>', 'poll interval told to idle devices (SUIT_POLL_INTERVAL)', numOption, envNumber(io.env['SUIT_POLL_INTERVAL']))
    .option('--poll-jitter <fraction>', '± jitter applied to poll intervals, 0..0.9 (SUIT_POLL_JITTER)', numOption, envNumber(io.env['SUIT_POLL_JITTER']))
    .option('--delta-encoder <where>', "delta encoding: 'worker' (thread, default) or 'inline' (SUIT_DELTA_ENCODER)", io.env['SUIT_DELTA_ENCODER'])
    .option('--json', 'print machine-readable startup information')
    .action(async (o: { data: string; port: number; host: string; s3Endpoint?: string; s3Bucket?: string; s3AccessKey?: string; s3SecretKey?: string; s3Region: string; logLevel: string; pollInterval?: number; pollJitter?: number; deltaEncoder?: string; json?: boolean }) => {
      json = !!o.json;
      // commander's .env() reads process.env; honour the injected environment too.
      const env = (k: string) => io.env[k];
      const endpoint = o.s3Endpoint ?? env('SUIT_S3_ENDPOINT');
      let s3;
      if (endpoint) {
        const bucket = o.s3Bucket ?? env('SUIT_S3_BUCKET');
        const accessKey = o.s3AccessKey ?? env('SUIT_S3_ACCESS_KEY');
        const secretKey = o.s3SecretKey ?? env('SUIT_S3_SECRET_KEY');
        if (!bucket || !accessKey || !secretKey) throw new UpdateError('USAGE', 'S3 needs --s3-bucket, --s3-access-key and --s3-secret-key (or SUIT_S3_*)');
        s3 = { endpoint, bucket, accessKey, secretKey, region: o.s3Region ?? env('SUIT_S3_REGION') ?? 'us-east-1' };
      }
      const dataDir = resolve(o.data);
      const adminToken = env('SUIT_ADMIN_TOKEN');
      if (o.deltaEncoder !== undefined && o.deltaEncoder !== 'worker' && o.deltaEncoder !== 'inline') throw new UpdateError('USAGE', "--delta-encoder is 'worker' or 'inline'");
      const deviceApi = {
        ...(o.pollInterval !== undefined ? { pollIntervalSeconds: o.pollInterval } : {}),
        ...(o.pollJitter !== undefined ? { pollJitter: o.pollJitter } : {}),
        ...(o.deltaEncoder !== undefined ? { deltaEncoder: o.deltaEncoder as 'worker' | 'inline' } : {}),
      };
      const srv = await startServer({ dataDir, port: o.port, host: o.host, logger: o.logLevel, deviceApi, ...(s3 ? { s3 } : {}), ...(adminToken ? { adminToken } : {}) });
      const info = { url: srv.url, dataDir, objectStore: s3 ? `s3:${s3.bucket}` : 'fs', adminToken: srv.initialAdminToken };
      if (json) io.out(JSON.stringify(info));
      else {
        io.out(`suit-server listening on ${srv.url} (data ${dataDir}, objects ${info.objectStore})`);
        if (srv.initialAdminToken) io.out(`Initial admin token (shown once; only its hash is stored):\n  ${srv.initialAdminToken}`);
      }
      io.onStarted?.(srv);
      await io.waitForStop();
      await srv.close();
    });

  const audit = program.command('audit').description('Audit log tools');
  audit.command('verify')
    .description('Recompute the audit log hash chain; exit 0 when intact')
    .option('--data <dir>', 'data directory', io.env['SUIT_DATA_DIR'] ?? DEFAULT_DATA)
    .option('--json', 'print the result as JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      json = !!o.json;
      const store = await openSqliteStore({ file: resolve(o.data, 'state.db') });
      try {
        const r = await verifyAuditChain(store);
        if (json) io.out(JSON.stringify(r));
        else io.out(r.ok ? `audit log intact: ${r.count} entries, head ${r.lastHash}` : `audit log BROKEN at entry ${r.brokenAt}: ${r.reason}`);
        if (!r.ok) throw new UpdateError('AUDIT_CHAIN_BROKEN', r.reason, { details: { reported: true } });
      } finally {
        await store.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : ERRORS.USAGE.exit;
    }
    const u = toUpdateError(e);
    if (!(u.code === 'AUDIT_CHAIN_BROKEN' && u.details?.['reported'])) {
      if (json) io.err(JSON.stringify({ error: { code: u.code, message: u.code === 'INTERNAL' ? 'internal error' : u.message } }));
      else io.err(`suit-server: ${u.code}: ${u.message}`);
      if (u.code === 'INTERNAL') io.err(String((e as Error)?.stack ?? e));
    }
    return u.exitCode;
  }
}
