import { Router } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCbor, UpdateError } from '../manifest/index.js';
import { createApp } from './app.js';
import type { Mount } from './context.js';
import { defaultMounts } from './mounts.js';
import { startServer } from './server.js';
import { ADMIN, bearer, makeHarness, type Harness } from './testing/harness.js';
import { fakeVerifier } from './testing/fake-verifier.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('app: health, metrics, OpenAPI, errors', () => {
  let h: Harness;
  beforeAll(async () => { h = await makeHarness(); });
  afterAll(async () => h.close());

  it('healthz and readyz', async () => {
    const a = await h.http.get('/healthz');
    expect(a.status).toBe(200);
    h.check(a, 'get', '/healthz');
    const b = await h.http.get('/readyz');
    expect(b.status).toBe(200);
    h.check(b, 'get', '/readyz');
  });

  it('metrics in Prometheus text format, counting requests by route', async () => {
    await h.http.get('/api/v1/devices').set(bearer(ADMIN));
    const m = await h.http.get('/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    expect(m.text).toMatch(/suit_http_requests_total\{method="GET",route="\/api\/v1\/devices",status="200"\} \d+/);
    for (const name of ['suit_polls_total', 'suit_downloads_total', 'suit_download_bytes_total', 'suit_reports_total', 'suit_rollouts']) expect(m.text).toContain(name);
  });

  it('serves an OpenAPI 3.1 document whose $refs all resolve and whose operations all document responses', async () => {
    const res = await h.http.get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z]+/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) expect(doc.components.schemas[r.split('/').pop()!], r).toBeTruthy();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) expect(Object.keys(op.responses).length, `${m} ${path}`).toBeGreaterThan(0);
    }
    // The JSON Schema generated from zod is strict about unknown fields.
    expect((doc.components.schemas['Device'] as { additionalProperties?: unknown }).additionalProperties).toBe(false);
  });

  it('unknown routes: 404 NOT_FOUND in the error shape', async () => {
    const res = await h.http.get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  it('errors are CBOR when the client prefers CBOR', async () => {
    const res = await h.http.get('/nope').set('Accept', 'application/cbor').buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.headers['content-type']).toMatch(/application\/cbor/);
    const v = decodeCbor(new Uint8Array(res.body as Buffer)) as Map<string, Map<string, string>>;
    expect(v.get('error')?.get('code')).toBe('NOT_FOUND');
  });

  it('accepts CBOR request bodies', async () => {
    const { encodeCbor } = await import('../manifest/index.js');
    const body = encodeCbor(new Map<string, string>([['id', 'cbor-tenant'], ['name', 'From CBOR']]));
    const res = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).set('Content-Type', 'application/cbor').send(Buffer.from(body));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'cbor-tenant', name: 'From CBOR' });
  });

  it('malformed JSON: 400 VALIDATION_FAILED; bad CBOR: a CBOR_* 400; oversized: 413; wrong type: 415', async () => {
    const a = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).set('Content-Type', 'application/json').send('{"id":');
    expect([a.status, a.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const b = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).set('Content-Type', 'application/cbor').send(Buffer.from([0xa1, 0x61]));
    expect(b.status).toBe(400);
    expect(b.body.error.code).toMatch(/^CBOR_/);
    const c = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).set('Content-Type', 'application/json').send(JSON.stringify({ id: 'x', name: 'y'.repeat(2 * 1024 * 1024) }));
    expect([c.status, c.body.error.code]).toEqual([413, 'INPUT_TOO_LARGE']);
    const d = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).set('Content-Type', 'text/plain').send('hello');
    expect([d.status, d.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const e = await h.http.post('/api/v1/tenants').set(bearer(ADMIN)).send({ id: 'ok-id', name: 'n', extra: 1 });
    expect([e.status, e.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });
});

describe('error middleware', () => {
  it('maps UpdateError codes to the table status and never leaks unknown errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'suit-err-'));
    const { createServer } = await import('./server.js');
    const probe: Mount = {
      path: '/probe',
      router: () => Router()
        .get('/update', () => { throw new UpdateError('GONE', 'superseded'); })
        .get('/rate', () => { throw new UpdateError('RATE_LIMITED', 'slow down', { details: { retryAfterSeconds: 7 } }); })
        .get('/bug', () => { throw new Error('secret internal detail /etc/passwd'); })
        .get('/async-bug', async () => { await Promise.resolve(); throw new TypeError('x is undefined'); }),
    };
    const s = await createServer({ dataDir: dir, logger: 'silent', verifier: fakeVerifier, mounts: [...defaultMounts, probe] });
    const http = request(s.app);
    const gone = await http.get('/probe/update');
    expect([gone.status, gone.body]).toEqual([410, { error: { code: 'GONE', message: 'superseded' } }]);
    const rate = await http.get('/probe/rate');
    expect([rate.status, rate.headers['retry-after']]).toEqual([429, '7']);
    for (const p of ['/probe/bug', '/probe/async-bug']) {
      const bug = await http.get(p);
      expect([bug.status, bug.body]).toEqual([500, { error: { code: 'INTERNAL', message: 'internal error' } }]);
    }
    // createApp with an explicit mount list works the same.
    expect(createApp(s.ctx, [probe])).toBeTruthy();
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('first start and graceful shutdown', () => {
  it('first start creates an admin token once, stores only its hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'suit-first-'));
    const { createServer } = await import('./server.js');
    const s1 = await createServer({ dataDir: dir, logger: 'silent', verifier: fakeVerifier });
    const secret = s1.initialAdminToken!;
    expect(secret).toMatch(/^suit_[A-Za-z0-9_-]{43}$/);
    const rows = await s1.ctx.store.listTokens();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const ok = await request(s1.app).get('/api/v1/tokens').set(bearer(secret));
    expect(ok.status).toBe(200);
    await s1.close();
    const s2 = await createServer({ dataDir: dir, logger: 'silent', verifier: fakeVerifier });
    expect(s2.initialAdminToken).toBeNull();
    expect((await request(s2.app).get('/api/v1/tokens').set(bearer(secret))).status).toBe(200);
    await s2.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('startServer listens; close lets an in-flight request finish and then refuses connections', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'suit-run-'));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow: Mount = { path: '/slow', router: () => Router().get('/', async (_req, res) => { await gate; res.json({ done: true }); }) };
    const srv = await startServer({ dataDir: dir, logger: 'silent', adminToken: ADMIN, verifier: fakeVerifier, mounts: [...defaultMounts, slow] });
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    const inflight = fetch(`${srv.url}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const closing = srv.close();
    const ready = await request(srv.app).get('/readyz');
    expect([ready.status, ready.body.error?.code]).toEqual([503, 'STORAGE_UNAVAILABLE']);
    release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closing;
    await expect(fetch(`${srv.url}/healthz`)).rejects.toThrow();
    await rm(dir, { recursive: true, force: true });
  });
});
