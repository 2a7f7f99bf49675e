/**
 * Fleet server benchmark: `npm run bench:server -- [--json] [--devices N] [--duration S] [--connections C]`
 *
 *  1. registers N devices (default 1,000,000) through a bulk path: one INSERT … SELECT over a recursive
 *     CTE (portable SQL), plus 100 simulated devices with real Ed25519 identity keys;
 *  2. starts a rollout of one release over all of them through the management API (lazy selection:
 *     one row, whatever N is);
 *  3. runs autocannon (loopback only, bounded duration) against `GET /device/v1/poll` with the 100
 *     simulated devices' bearer tokens (real challenge/signature flow), and in the same run against a
 *     bare Express handler returning a constant CBOR body of the same size.
 *
 * The servers run in a child process so the load generator does not share their event loop.
 * Prints `{ devices, registerSeconds, rolloutStartSeconds, pollReqPerSec, bareExpressReqPerSec, ratio, p99Ms }`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import express from 'express';
import { decodeCbor, encodeCbor, toHex, type CborValue } from '../manifest/index.js';
import { createServer } from '../update-server/server.js';
import { addRelease, signChallenge, simDevice, type SimDevice } from '../update-server/device-api/test-support.js';

interface AutocannonResult {
  requests: { average: number; mean: number; total: number };
  latency: { p99: number; average: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SIMULATED = 100;
const ADMIN = 'bench-admin-token-0123456789abcdef';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

// ------------------------------------------------------------------ child: the servers under test

async function serve(dir: string): Promise<void> {
  // Generous limits: 100 devices each polling hundreds of times a second is the point of the run.
  const srv = await createServer({
    dataDir: dir, logger: 'silent', adminToken: ADMIN,
    deviceApi: { tokenLimit: { ratePerSecond: 1e6, burst: 1e6 }, authLimit: { ratePerSecond: 1e6, burst: 1e6 } },
  });
  const app = srv.app;
  const http = await new Promise<import('node:http').Server>((res) => { const s = app.listen(0, '127.0.0.1', () => res(s)); });
  const bareBody = Buffer.from(process.env['BENCH_BARE_BODY_HEX'] ?? 'a0', 'hex');
  const bare = express();
  bare.disable('x-powered-by');
  bare.set('etag', false);
  bare.get('/device/v1/poll', (_req, res) => { res.set('Content-Type', 'application/cbor').send(bareBody); });
  const bareHttp = await new Promise<import('node:http').Server>((res) => { const s = bare.listen(0, '127.0.0.1', () => res(s)); });
  const port = (s: import('node:http').Server): number => (s.address() as import('node:net').AddressInfo).port;
  process.stdout.write(JSON.stringify({ port: port(http), barePort: port(bareHttp) }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    http.close();
    bareHttp.close();
    void srv.close().then(() => process.exit(0));
  });
}

// ------------------------------------------------------------------ parent: setup and load

async function registerDevices(dir: string, n: number, sims: SimDevice[]): Promise<{ seconds: number; releaseId: string }> {
  const srv = await createServer({ dataDir: dir, logger: 'silent', adminToken: ADMIN });
  const { ctx } = srv;
  await ctx.store.createTenant({ id: 'bench', name: 'bench', createdAt: new Date().toISOString() });
  const rel = await addRelease(ctx, { sequence: 2, image: new Uint8Array(64 * 1024).fill(2), tenantId: 'bench' });
  const at = new Date().toISOString();
  const t0 = performance.now();
  await ctx.store.transaction(async (tx) => {
    const bulk = n - sims.length;
    // One statement: rows generated inside the database (WITH RECURSIVE works in SQLite and PostgreSQL).
    await sql`
      WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ${bulk})
      INSERT INTO devices (id, vendor_id, class_id, identity_key, tenant_id, claim_code_hash, current_seq, current_digest, update_state, last_seen, last_report, created_at, updated_at)
      SELECT 'bench-' || i, 'vendor-1', 'class-1', lower(hex(randomblob(32))), 'bench', NULL, 1, NULL, 'idle', NULL, NULL, ${at}, ${at} FROM seq`.execute(tx.db);
    await tx.db.insertInto('devices').values(sims.map((d) => ({
      id: d.id, vendor_id: 'vendor-1', class_id: 'class-1', identity_key: toHex(d.publicKey), tenant_id: 'bench', claim_code_hash: null,
      current_seq: 1, current_digest: null, last_seen: null, last_report: null, created_at: at, updated_at: at,
    }))).execute();
  });
  const seconds = (performance.now() - t0) / 1000;
  const count = await ctx.store.db.selectFrom('devices').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  if (Number(count.n) !== n) throw new Error(`registered ${String(count.n)} devices, expected ${n}`);
  await srv.close();
  return { seconds, releaseId: rel.id };
}

async function startChild(dir: string, bareBodyHex: string): Promise<{ port: number; barePort: number; stop: () => Promise<void> }> {
  const self = fileURLToPath(import.meta.url);
  const prof = process.env['BENCH_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROF']}`] : [];
  const child = spawn(process.execPath, [...process.execArgv, ...prof, self, '--serve', dir], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_BARE_BODY_HEX: bareBodyHex },
  });
  const ports = await new Promise<{ port: number; barePort: number }>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as { port: number; barePort: number });
    });
    child.once('exit', (code) => reject(new Error(`server child exited ${String(code)}`)));
  });
  return {
    ...ports,
    stop: () => new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.stdin!.end();
    }),
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function deviceToken(base: string, d: SimDevice): Promise<string> {
  const c = await post(`${base}/device/v1/auth/challenge`, { deviceId: d.id });
  if (c.status !== 200) throw new Error(`challenge: ${c.status} ${JSON.stringify(c.body)}`);
  const ch = new Uint8Array(Buffer.from(c.body.challenge as string, 'base64url'));
  const t = await post(`${base}/device/v1/auth/token`, { deviceId: d.id, challenge: c.body.challenge, signature: Buffer.from(signChallenge(d, ch)).toString('base64url') });
  if (t.status !== 200) throw new Error(`token: ${t.status} ${JSON.stringify(t.body)}`);
  return t.body.token as string;
}

async function load(url: string, tokens: string[], seconds: number, connections: number): Promise<AutocannonResult> {
  let i = 0;
  return autocannon({
    url, connections, duration: seconds, pipelining: 1,
    requests: [{
      method: 'GET',
      setupRequest: (req: { headers?: Record<string, string> }) => {
        const t = tokens[i++ % tokens.length];
        return t ? { ...req, headers: { ...(req.headers ?? {}), authorization: `Bearer ${t}` } } : req;
      },
    }],
  });
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const devices = Math.floor(arg('devices', 1_000_000));
  const duration = arg('duration', 6);
  const connections = Math.floor(arg('connections', 50));
  const log = (m: string): void => { if (!json) process.stderr.write(`${m}\n`); };
  const dir = await mkdtemp(join(tmpdir(), 'suit-bench-'));
  try {
    const sims = Array.from({ length: Math.min(SIMULATED, devices) }, (_, i) => simDevice(`sim-${i}`));
    log(`registering ${devices} devices…`);
    const reg = await registerDevices(dir, devices, sims);
    log(`registered in ${reg.seconds.toFixed(2)} s`);

    // A poll answer of the real size, for the bare handler's constant body.
    const child0 = await startChild(dir, 'a0');
    const base = `http://127.0.0.1:${child0.port}`;
    const ops = await post(`${base}/api/v1/tokens`, { role: 'operator', tenantId: 'bench', label: 'bench' }, { Authorization: `Bearer ${ADMIN}` });
    if (ops.status !== 201) throw new Error(`operator token: ${ops.status} ${JSON.stringify(ops.body)}`);
    const t0 = performance.now();
    const ro = await post(`${base}/api/v1/rollouts`, { name: 'bench', releaseId: reg.releaseId, target: { kind: 'all' }, phases: [{ percent: 100 }] }, { Authorization: `Bearer ${ops.body.token as string}` });
    const rolloutStartSeconds = (performance.now() - t0) / 1000;
    if (ro.status !== 201) throw new Error(`rollout: ${ro.status} ${JSON.stringify(ro.body)}`);
    log(`rollout over all devices started in ${(rolloutStartSeconds * 1000).toFixed(1)} ms`);
    const tokens: string[] = [];
    for (const d of sims) tokens.push(await deviceToken(base, d));
    const sample = await fetch(`${base}/device/v1/poll?seq=1`, { headers: { authorization: `Bearer ${tokens[0]!}` } });
    const sampleBody = new Uint8Array(await sample.arrayBuffer());
    const status = (decodeCbor(sampleBody, { maxBytes: 1 << 20 }) as Map<string, CborValue>).get('status');
    if (sample.status !== 200 || status !== 'update') throw new Error(`poll sample: ${sample.status} ${String(status)}`);
    await child0.stop();

    const child = await startChild(dir, Buffer.from(encodeCbor(decodeCbor(sampleBody, { maxBytes: 1 << 20 }))).toString('hex'));
    try {
      const pollUrl = `http://127.0.0.1:${child.port}${process.env['BENCH_PATH'] ?? '/device/v1/poll?seq=1'}`; // BENCH_PATH: profiling aid
      const bareUrl = `http://127.0.0.1:${child.barePort}/device/v1/poll?seq=1`;
      log('warming up…');
      await load(pollUrl, tokens, 1, connections);
      if (process.env['BENCH_ONLY_POLL'] === undefined) await load(bareUrl, tokens, 1, connections);
      log(`autocannon ${connections} connections × ${duration} s each (poll, bare, poll, bare)…`);
      const p1 = await load(pollUrl, tokens, duration / 2, connections);
      const onlyPoll = process.env['BENCH_ONLY_POLL'] !== undefined; // profiling aid
      const b1 = onlyPoll ? p1 : await load(bareUrl, tokens, duration / 2, connections);
      const p2 = await load(pollUrl, tokens, duration / 2, connections);
      const b2 = onlyPoll ? p2 : await load(bareUrl, tokens, duration / 2, connections);
      const bad = p1.non2xx + p2.non2xx + p1.errors + p2.errors;
      if (bad > 0) throw new Error(`poll run had ${bad} failed requests`);
      const pollReqPerSec = (p1.requests.average + p2.requests.average) / 2;
      const bareExpressReqPerSec = (b1.requests.average + b2.requests.average) / 2;
      const out = {
        devices,
        registerSeconds: Number(reg.seconds.toFixed(3)),
        rolloutStartSeconds: Number(rolloutStartSeconds.toFixed(4)),
        pollReqPerSec: Math.round(pollReqPerSec),
        bareExpressReqPerSec: Math.round(bareExpressReqPerSec),
        ratio: Number((pollReqPerSec / bareExpressReqPerSec).toFixed(3)),
        p99Ms: Math.max(p1.latency.p99, p2.latency.p99),
      };
      process.stdout.write(json ? JSON.stringify(out) + '\n' : JSON.stringify(out, null, 2) + '\n');
    } finally {
      await child.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve')) {
  await serve(process.argv[process.argv.indexOf('--serve') + 1]!);
} else {
  await main();
}
