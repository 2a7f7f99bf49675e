import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from './cli-program.js';
import type { RunningServer } from './server.js';
import { openSqliteStore } from './state/index.js';
import { startTestS3, type TestS3 } from './storage/testing/s3.js';

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let stop!: () => void;
  let started!: (s: RunningServer) => void;
  const startedP = new Promise<RunningServer>((r) => { started = r; });
  const x: CliIo & { out: (s: string) => void } = {
    out: (s) => out.push(s), err: (s) => err.push(s), env,
    waitForStop: () => new Promise<void>((r) => { stop = r; }),
    onStarted: (s) => started(s),
  };
  return { io: x, out, err, stop: () => stop(), started: startedP };
}

describe('suit-server CLI', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'suit-cli-')); });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('--help everywhere exits 0', async () => {
    for (const args of [['--help'], ['start', '--help'], ['audit', '--help'], ['audit', 'verify', '--help']]) {
      const t = io();
      expect(await main(args, t.io), args.join(' ')).toBe(0);
      expect(t.out.join('')).toMatch(/Usage: suit-server/);
    }
  });
  it('unknown commands and bad options exit 64', async () => {
    expect(await main(['frobnicate'], io().io)).toBe(64);
    expect(await main(['start', '--port', 'abc'], io().io)).toBe(64);
  });
  it('device API flags and SUIT_* variables reach the server; bad values exit 64', async () => {
    const t = io({ SUIT_POLL_JITTER: '0' });
    const run = main(['start', '--data', join(dir, 'dev'), '--port', '0', '--json', '--log-level', 'silent', '--poll-interval', '42', '--delta-encoder', 'inline'], t.io);
    const srv = await t.started;
    expect(srv.ctx.deviceApi).toEqual({ pollIntervalSeconds: 42, pollJitter: 0, deltaEncoder: 'inline' });
    t.stop();
    expect(await run).toBe(0);
    expect(await main(['start', '--data', join(dir, 'dev'), '--port', '0', '--delta-encoder', 'gpu'], io().io)).toBe(64);
    expect(await main(['start', '--data', join(dir, 'dev'), '--port', '0', '--poll-jitter', '2'], io().io)).toBe(64);
  });
  it('start --json prints the URL and the one-time admin token; SIGTERM-equivalent stops it', async () => {
    const t = io();
    const run = main(['start', '--data', join(dir, 'a'), '--port', '0', '--json', '--log-level', 'silent'], t.io);
    const srv = await t.started;
    const info = JSON.parse(t.out[0]!) as { url: string; adminToken: string; objectStore: string };
    expect(info.objectStore).toBe('fs');
    expect(info.adminToken).toMatch(/^suit_/);
    const res = await fetch(`${info.url}/api/v1/tokens`, { headers: { Authorization: `Bearer ${info.adminToken}` } });
    expect(res.status).toBe(200);
    expect(srv.url).toBe(info.url);
    t.stop();
    expect(await run).toBe(0);
    // Second start: no new token printed.
    const t2 = io();
    const run2 = main(['start', '--data', join(dir, 'a'), '--port', '0', '--json', '--log-level', 'silent'], t2.io);
    await t2.started;
    expect(JSON.parse(t2.out[0]!).adminToken).toBeNull();
    t2.stop();
    expect(await run2).toBe(0);
  });
  it('SUIT_ADMIN_TOKEN is accepted instead of a generated token', async () => {
    const t = io({ SUIT_ADMIN_TOKEN: 'a-long-enough-admin-secret' });
    const run = main(['start', '--data', join(dir, 'b'), '--port', '0', '--log-level', 'silent'], t.io);
    const srv = await t.started;
    expect(t.out.join('\n')).not.toMatch(/Initial admin token/);
    expect((await fetch(`${srv.url}/api/v1/tokens`, { headers: { Authorization: 'Bearer a-long-enough-admin-secret' } })).status).toBe(200);
    t.stop();
    expect(await run).toBe(0);
  });
  describe('with S3', () => {
    let s3: TestS3;
    beforeAll(async () => { s3 = await startTestS3('suit-cli'); });
    afterAll(async () => s3.stop());
    it('start with SUIT_S3_* stores objects in the bucket', async () => {
      const t = io({ SUIT_S3_ENDPOINT: s3.endpoint, SUIT_S3_BUCKET: 'suit-cli', SUIT_S3_ACCESS_KEY: 'S3RVER', SUIT_S3_SECRET_KEY: 'S3RVER', SUIT_ADMIN_TOKEN: 'a-long-enough-admin-secret' });
      const run = main(['start', '--data', join(dir, 'c'), '--port', '0', '--json', '--log-level', 'silent'], t.io);
      const srv = await t.started;
      expect(JSON.parse(t.out[0]!).objectStore).toBe('s3:suit-cli');
      const body = Buffer.from('payload via s3');
      const { createHash } = await import('node:crypto');
      const sha = createHash('sha256').update(body).digest('hex');
      const put = await fetch(`${srv.url}/api/v1/payloads/${sha}`, { method: 'PUT', body, headers: { Authorization: 'Bearer a-long-enough-admin-secret', 'Content-Type': 'application/octet-stream' } });
      expect(put.status).toBe(201);
      expect(await s3.store.head(`payloads/${sha}`)).toMatchObject({ size: body.length });
      t.stop();
      expect(await run).toBe(0);
    });
    it('S3 without credentials is a usage error', async () => {
      const t = io({ SUIT_S3_ENDPOINT: s3.endpoint });
      expect(await main(['start', '--data', join(dir, 'd'), '--port', '0'], t.io)).toBe(64);
      expect(t.err.join('')).toMatch(/USAGE/);
    });
  });
  it('audit verify: 0 when intact (--json), 77 AUDIT_CHAIN_BROKEN after tampering', async () => {
    const t = io();
    expect(await main(['audit', 'verify', '--data', join(dir, 'a'), '--json'], t.io)).toBe(0);
    expect(JSON.parse(t.out[0]!)).toMatchObject({ ok: true, count: 1 });
    const store = await openSqliteStore({ file: join(dir, 'a', 'state.db') });
    await store.appendAudit({ actor: 'x', tenantId: null, action: 'a.b', target: null });
    await store.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 1).execute();
    await store.close();
    const t2 = io();
    expect(await main(['audit', 'verify', '--data', join(dir, 'a')], t2.io)).toBe(77);
    expect(t2.out.join('')).toMatch(/BROKEN at entry 1/);
  });
  it('the bin runs through tsx', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/suit-server.mjs', '--help'], { cwd: join(import.meta.dirname, '..') });
    expect(stdout).toMatch(/audit/);
  });
});
