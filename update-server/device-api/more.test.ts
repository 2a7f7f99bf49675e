/**
 * Device API: the delta worker thread, presigned S3 download URLs, Retry-After under load, the device
 * endpoints against the OpenAPI document, and a restart with rollouts, assignments and the kill switch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDelta, encodeDelta } from '../../delta/index.js';
import { encodeCbor, type CborValue } from '../../manifest/index.js';
import { bearer, makeHarness, type Harness } from '../testing/harness.js';
import { startTestS3, type TestS3 } from '../storage/testing/s3.js';
import { workerEncoder } from './deltas.js';
import { addDevice, addRelease, sha256hex, signChallenge, signedReport, simDevice, type SimDevice } from './test-support.js';

const JSON_ACCEPT = { Accept: 'application/json' };

async function token(h: Harness, d: SimDevice): Promise<string> {
  const c = await h.http.post('/device/v1/auth/challenge').set(JSON_ACCEPT).send({ deviceId: d.id });
  h.check(c, 'post', '/device/v1/auth/challenge');
  const ch = new Uint8Array(Buffer.from(c.body.challenge as string, 'base64url'));
  const t = await h.http.post('/device/v1/auth/token').set(JSON_ACCEPT)
    .send({ deviceId: d.id, challenge: c.body.challenge, signature: Buffer.from(signChallenge(d, ch)).toString('base64url') });
  h.check(t, 'post', '/device/v1/auth/token');
  return t.body.token as string;
}
const pollJson = (h: Harness, tok: string, q = 'seq=1') => h.http.get(`/device/v1/poll?${q}`).set(bearer(tok)).set(JSON_ACCEPT);

async function rollout(h: Harness, op: string, releaseId: string, phases: unknown[] = [{ percent: 100 }]): Promise<string> {
  const r = await h.http.post('/api/v1/rollouts').set(bearer(op)).send({ name: 'r', releaseId, target: { kind: 'all' }, phases });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

describe('delta worker thread', () => {
  it('encodes one real job in a worker (no in-process fallback) and the patch rebuilds the image', async () => {
    const old = new Uint8Array(Buffer.alloc(50_000, 3));
    const nw = new Uint8Array(Buffer.from(old));
    Buffer.from(nw.buffer).write('a change in the middle', 20_000);
    let fellBack = false;
    const enc = workerEncoder({ onFallback: () => { fellBack = true; }, fallback: false });
    const patch = await enc(old, nw);
    expect(fellBack).toBe(false);
    expect(Buffer.from(patch).equals(Buffer.from(encodeDelta(old, nw)))).toBe(true);
    expect(Buffer.from(applyDelta(old, patch).output).equals(Buffer.from(nw))).toBe(true);
  }, 20_000);
});

describe('S3: presigned download URLs in the poll answer', () => {
  let s3: TestS3;
  let h: Harness;
  beforeAll(async () => {
    s3 = await startTestS3('suit-presign');
    h = await makeHarness({ objects: s3.store });
  });
  afterAll(async () => {
    await h.close();
    await s3.stop();
  });

  it('offers presigned URLs; a GET returns the bytes and Range works', async () => {
    const op = await h.tenantToken('t1', 'operator');
    const d = simDevice('s3-dev');
    await addDevice(h.server.ctx, d, { tenantId: 't1' });
    await addRelease(h.server.ctx, { sequence: 1, image: new Uint8Array(1000) });
    const image = new Uint8Array(Buffer.from('presigned image bytes '.repeat(400)));
    const rel = await addRelease(h.server.ctx, { sequence: 2, image });
    await rollout(h, op, rel.id);
    const tok = await token(h, d);
    const p = await pollJson(h, tok);
    h.check(p, 'get', '/device/v1/poll');
    expect(p.body.status).toBe('update');
    const full = p.body.payloads[0] as { url: string; sha256: string; size: number };
    expect(full.url.startsWith(s3.endpoint)).toBe(true);
    expect(full.url).toMatch(/X-Amz-Signature=/);
    expect(p.body.envelopeUrl.startsWith(s3.endpoint)).toBe(true);
    const got = await fetch(full.url);
    expect(got.status).toBe(200);
    const bytes = new Uint8Array(await got.arrayBuffer());
    expect(sha256hex(bytes)).toBe(full.sha256);
    expect(bytes.length).toBe(full.size);
    const part = await fetch(full.url, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(image.subarray(100, 200)))).toBe(true);
    // Expiry outlasts a slow download (at least the configured presign expiry).
    expect(Number(new URL(full.url).searchParams.get('X-Amz-Expires'))).toBeGreaterThanOrEqual(h.server.ctx.config.presignExpirySeconds);
  });
});

describe('Retry-After under load', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await makeHarness({ deviceApi: { loadDelayMs: 50, pollIntervalSeconds: 100, pollJitter: 0 } });
  });
  afterAll(async () => { await h.close(); });

  it('idle answers carry Retry-After and a doubled interval while the event loop lags, and drop them after', async () => {
    await h.tenantToken('t1', 'operator');
    const d = simDevice('load-dev');
    await addDevice(h.server.ctx, d, { tenantId: 't1' });
    const tok = await token(h, d);
    // Simulated load: block the event loop well past the threshold, then let the delay monitor record it.
    const until = Date.now() + 300;
    while (Date.now() < until) { /* busy */ }
    await new Promise((r) => setTimeout(r, 60));
    const loaded = await pollJson(h, tok);
    h.check(loaded, 'get', '/device/v1/poll');
    expect(loaded.body).toMatchObject({ status: 'none', pollAfter: 200 });
    expect(loaded.headers['retry-after']).toBe('200');
    // The same through the CBOR fast path (device and token now cached).
    const cb = await h.http.get('/device/v1/poll?seq=1').set(bearer(tok));
    expect(cb.headers['retry-after']).toBe('200');
    // Load is sampled once a second: after a quiet second the answers are normal again.
    await new Promise((r) => setTimeout(r, 1100));
    const calm = await pollJson(h, tok);
    expect(calm.body).toMatchObject({ status: 'none', pollAfter: 100 });
    expect(calm.headers['retry-after']).toBeUndefined();
  });
});

describe('device endpoints against the OpenAPI document', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await makeHarness({ deviceApi: { deltaEncoder: 'inline', tokenLimit: { ratePerSecond: 0.01, burst: 12 } } });
  });
  afterAll(async () => { await h.close(); });

  it('every device endpoint answers what the document says (success and errors)', async () => {
    const op = await h.tenantToken('t1', 'operator');
    const d = simDevice('oa-dev');
    await addDevice(h.server.ctx, d, { tenantId: 't1' });
    await addDevice(h.server.ctx, simDevice('oa-unclaimed'), { tenantId: null });
    const image = new Uint8Array(Buffer.alloc(4000, 9));
    await addRelease(h.server.ctx, { sequence: 1, image: new Uint8Array(4000) });
    const rel = await addRelease(h.server.ctx, { sequence: 2, image });
    const c = h.check;

    const unenrolled = await h.http.post('/device/v1/auth/challenge').set(JSON_ACCEPT).send({ deviceId: 'oa-unclaimed' });
    expect(unenrolled.status).toBe(403);
    c(unenrolled, 'post', '/device/v1/auth/challenge');
    const badTok = await h.http.post('/device/v1/auth/token').set(JSON_ACCEPT).send({ deviceId: d.id, challenge: 'AA', signature: 'AA' });
    c(badTok, 'post', '/device/v1/auth/token');
    const tok = await token(h, d);

    const none = await pollJson(h, tok);
    c(none, 'get', '/device/v1/poll');
    expect(none.body.status).toBe('none');
    const noAuth = await h.http.get('/device/v1/poll').set(JSON_ACCEPT);
    expect(noAuth.status).toBe(401);
    c(noAuth, 'get', '/device/v1/poll');
    const badQ = await pollJson(h, tok, 'seq=x');
    c(badQ, 'get', '/device/v1/poll');
    const notModified = await h.http.get('/device/v1/poll?seq=1').set(bearer(tok)).set('If-None-Match', none.headers['etag']!);
    expect(notModified.status).toBe(304);
    c(notModified, 'get', '/device/v1/poll');

    await rollout(h, op, rel.id);
    const up = await pollJson(h, tok);
    c(up, 'get', '/device/v1/poll');
    expect(up.body.status).toBe('update');
    const sha = sha256hex(image);
    const dl = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(tok));
    c(dl, 'get', '/device/v1/payloads/{id}');
    const rg = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(tok)).set('Range', 'bytes=0-9');
    expect(rg.status).toBe(206);
    c(rg, 'get', '/device/v1/payloads/{id}');
    const past = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(tok)).set('Range', 'bytes=999999-').set(JSON_ACCEPT);
    expect(past.status).toBe(416);
    c(past, 'get', '/device/v1/payloads/{id}');
    const other = await h.http.get(`/device/v1/deltas/${'0'.repeat(64)}`).set(bearer(tok)).set(JSON_ACCEPT);
    expect(other.status).toBe(404);
    c(other, 'get', '/device/v1/deltas/{id}');
    const envl = await h.http.get(`/device/v1/releases/${rel.id}/envelope`).set(bearer(tok));
    c(envl, 'get', '/device/v1/releases/{id}/envelope');

    const nonce = new Uint8Array(Buffer.from(up.body.assignment.nonce as string, 'base64url'));
    const aid = up.body.assignment.id as string;
    const rep = await h.http.post(`/device/v1/assignments/${aid}/report`).set(bearer(tok)).set(JSON_ACCEPT)
      .send({ status: 'confirmed', report: Buffer.from(signedReport(d, nonce, 'confirmed')).toString('base64url') });
    c(rep, 'post', '/device/v1/assignments/{id}/report');
    expect(rep.body.assignment.state).toBe('confirmed');
    const badRep = await h.http.post(`/device/v1/assignments/${aid}/report`).set(bearer(tok)).set(JSON_ACCEPT)
      .send({ status: 'confirmed', report: Buffer.from(signedReport(d, new Uint8Array(16), 'confirmed')).toString('base64url') });
    expect(badRep.status).toBeGreaterThanOrEqual(400);
    c(badRep, 'post', '/device/v1/assignments/{id}/report');
    const cborRep = await h.http.post(`/device/v1/assignments/nope/report`).set(bearer(tok)).set(JSON_ACCEPT).set('Content-Type', 'application/cbor')
      .send(Buffer.from(encodeCbor(new Map<string, CborValue>([['status', 'confirmed'], ['report', new Uint8Array(8)]]))));
    expect(cborRep.status).toBe(404);
    c(cborRep, 'post', '/device/v1/assignments/{id}/report');

    // The token bucket (burst 12) runs dry: 429 with Retry-After, as documented.
    let limited;
    for (let i = 0; i < 20 && !limited; i++) {
      const r = await pollJson(h, tok);
      if (r.status === 429) limited = r;
    }
    expect(limited).toBeDefined();
    expect(limited!.headers['retry-after']).toMatch(/^\d+$/);
    c(limited!, 'get', '/device/v1/poll');
  });
});

describe('restart: rollouts, assignments and the kill switch survive, in-memory views reload', () => {
  let h: Harness;
  beforeAll(async () => { h = await makeHarness({ deviceApi: { deltaEncoder: 'inline' } }); });
  afterAll(async () => { await h.close(); });

  it('stop, start: identical state and the same answers', async () => {
    const op = await h.tenantToken('t1', 'operator');
    const devs = [simDevice('rs-1'), simDevice('rs-2'), simDevice('rs-3')];
    for (const d of devs) await addDevice(h.server.ctx, d, { tenantId: 't1' });
    await addRelease(h.server.ctx, { sequence: 1, image: new Uint8Array(500) });
    const rel = await addRelease(h.server.ctx, { sequence: 2, image: new Uint8Array(500).fill(1) });
    const roId = await rollout(h, op, rel.id, [{ percent: 50 }, { percent: 100 }]);
    const toks = await Promise.all(devs.map((d) => token(h, d)));
    const before = await Promise.all(toks.map((t) => pollJson(h, t, 'seq=1&digest=' + 'a'.repeat(64))));
    const updates = before.filter((r) => r.body.status === 'update');
    // confirm one, so counts and device state move
    if (updates[0]) {
      const i = before.indexOf(updates[0]);
      const nonce = new Uint8Array(Buffer.from(updates[0].body.assignment.nonce as string, 'base64url'));
      const r = await h.http.post(`/device/v1/assignments/${updates[0].body.assignment.id}/report`).set(bearer(toks[i]!)).set(JSON_ACCEPT)
        .send({ status: 'downloading', report: Buffer.from(signedReport(devs[i]!, nonce, 'downloading')).toString('base64url') });
      expect(r.status).toBe(200);
    }
    const until = new Date(Date.now() + 3600_000).toISOString();
    expect((await h.http.put('/api/v1/rollouts/kill-switch').set(bearer(op)).send({ until, reason: 'incident 7' })).status).toBe(200);
    const snap = async () => ({
      rollout: (await h.http.get(`/api/v1/rollouts/${roId}`).set(bearer(op))).body,
      kill: (await h.http.get('/api/v1/rollouts/kill-switch').set(bearer(op))).body,
      devices: await Promise.all(devs.map(async (d) => {
        const b = (await h.http.get(`/api/v1/devices/${d.id}`).set(bearer(op))).body;
        return { id: b.id, currentSeq: b.currentSeq, updateState: b.updateState, pendingUpdate: b.pendingUpdate };
      })),
      paused: await Promise.all(toks.map(async (t) => { const r = await pollJson(h, t); return [r.body.status, r.body.until, r.headers['etag']]; })),
    });
    const s1 = await snap();
    expect(s1.paused.every((p) => p[0] === 'paused')).toBe(true);
    // last-seen/digest writes are batched: the graceful stop flushes them
    await h.restart();
    const s2 = await snap();
    expect(s2).toEqual(s1);
    // What the devices said in their polls (batched writes) was flushed by the graceful stop.
    for (const d of devs) expect((await h.http.get(`/api/v1/devices/${d.id}`).set(bearer(op))).body.currentDigest).toBe('a'.repeat(64));
    // Tokens issued before the restart still work (read back from their hashes); lifting the kill
    // switch gives every device the same answer as before (same assignment, same nonce).
    expect((await h.http.delete('/api/v1/rollouts/kill-switch').set(bearer(op))).status).toBe(204);
    const after = await Promise.all(toks.map((t) => pollJson(h, t, 'seq=1&digest=' + 'a'.repeat(64))));
    for (const [i, r] of after.entries()) {
      expect(r.body.status).toBe(before[i]!.body.status);
      if (r.body.status === 'update') {
        expect(r.body.assignment.id).toBe(before[i]!.body.assignment.id);
        expect(r.body.assignment.nonce).toBe(before[i]!.body.assignment.nonce);
      }
    }
    const v = (await h.http.get(`/api/v1/rollouts/${roId}`).set(bearer(op))).body;
    expect(v.counts).toEqual(s1.rollout.counts);
    expect(v.population).toEqual(s1.rollout.population);
  });
});
