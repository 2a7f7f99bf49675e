import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { decodeCbor, encodeCbor, fromHex, type CborValue } from '../../manifest/index.js';
import { ADMIN, bearer, makeHarness, type Harness } from '../testing/harness.js';
import { deviceApi } from './service.js';
import { inProcessEncoder } from './deltas.js';
import { addDevice, addRelease, sha256hex, signChallenge, signedReport, simDevice, type SimDevice } from './test-support.js';
import type { ReleaseRecord } from '../state/index.js';

const CBOR = 'application/cbor';

function plain(v: CborValue): any {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}
const binary = (res: any, cb: (e: Error | null, b: Buffer) => void): void => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};
// requireDeterministic: the cached, spliced poll encoding must still be core deterministic CBOR.
const cbor = (r: Response): any => plain(decodeCbor(new Uint8Array(r.body as Buffer), { maxBytes: 1 << 20, requireDeterministic: true }));

let h: Harness;
let operator: string;
const img1 = new Uint8Array(Buffer.alloc(20_000, 7));
const img2 = (() => { const b = Buffer.alloc(20_000, 7); b.write('version two changes here', 5000); return new Uint8Array(b); })();
const img3 = (() => { const b = Buffer.from(img2); b.write('three', 9000); return new Uint8Array(b); })();
let rel2: ReleaseRecord;
let rel3: ReleaseRecord;

async function token(d: SimDevice): Promise<string> {
  const c = await h.http.post('/device/v1/auth/challenge').set('Content-Type', CBOR).send(Buffer.from(encodeCbor(new Map([['deviceId', d.id]])))).buffer(true).parse(binary);
  expect(c.status).toBe(200);
  const challenge = cbor(c).challenge as Uint8Array;
  const t = await h.http.post('/device/v1/auth/token').set('Content-Type', CBOR)
    .send(Buffer.from(encodeCbor(new Map<string, CborValue>([['deviceId', d.id], ['challenge', challenge], ['signature', signChallenge(d, challenge)]])))).buffer(true).parse(binary);
  expect(t.status).toBe(200);
  return cbor(t).token as string;
}
const poll = (tok: string, q = 'seq=1') => h.http.get(`/device/v1/poll?${q}`).set(bearer(tok)).buffer(true).parse(binary);
const report = (tok: string, assignment: string, status: string, rep: Uint8Array, code?: string) =>
  h.http.post(`/device/v1/assignments/${assignment}/report`).set(bearer(tok)).set('Content-Type', CBOR)
    .send(Buffer.from(encodeCbor(new Map<string, CborValue>([['status', status], ['report', rep], ...(code ? [['code', code] as [string, CborValue]] : [])])))).buffer(true).parse(binary);

beforeAll(async () => {
  h = await makeHarness();
  deviceApi(h.server.ctx).deltas.opts.encoder = inProcessEncoder;
  operator = await h.tenantToken('t1', 'operator');
  await addRelease(h.server.ctx, { sequence: 1, image: img1 });
  rel2 = await addRelease(h.server.ctx, { sequence: 2, image: img2 });
});
afterAll(async () => { await h.close(); });

describe('device authentication', () => {
  it('issues a token for a correct signature, in CBOR by default and JSON when asked', async () => {
    const d = simDevice('auth-good');
    await addDevice(h.server.ctx, d, { tenantId: 't1' });
    expect((await token(d)).startsWith('sdt_')).toBe(true);
    const c = await h.http.post('/device/v1/auth/challenge').set('Accept', 'application/json').send({ deviceId: d.id });
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toMatch(/json/);
    const ch = new Uint8Array(Buffer.from(c.body.challenge as string, 'base64url'));
    const t = await h.http.post('/device/v1/auth/token').set('Accept', 'application/json')
      .send({ deviceId: d.id, challenge: c.body.challenge, signature: Buffer.from(signChallenge(d, ch)).toString('base64url') });
    expect(t.status).toBe(200);
    expect(t.body.expiresIn).toBe(3600);
  });

  it('refuses a bad signature, a replayed challenge and an expired one with CHALLENGE_INVALID', async () => {
    const d = simDevice('auth-bad');
    await addDevice(h.server.ctx, d, { tenantId: 't1' });
    const other = simDevice('auth-bad');
    const ask = async () => new Uint8Array(Buffer.from((await h.http.post('/device/v1/auth/challenge').set('Accept', 'application/json').send({ deviceId: d.id })).body.challenge as string, 'base64url'));
    const send = (ch: Uint8Array, sig: Uint8Array) => h.http.post('/device/v1/auth/token').set('Accept', 'application/json')
      .send({ deviceId: d.id, challenge: Buffer.from(ch).toString('base64url'), signature: Buffer.from(sig).toString('base64url') });
    let ch = await ask();
    let r = await send(ch, signChallenge(other, ch));
    expect([r.status, r.body.error.code]).toEqual([401, 'CHALLENGE_INVALID']);
    // the challenge is burnt even by a failed attempt
    r = await send(ch, signChallenge(d, ch));
    expect(r.body.error.code).toBe('CHALLENGE_INVALID');
    ch = await ask();
    expect((await send(ch, signChallenge(d, ch))).status).toBe(200);
    r = await send(ch, signChallenge(d, ch)); // replay
    expect(r.body.error.code).toBe('CHALLENGE_INVALID');
    ch = await ask();
    await h.server.ctx.store.db.withTables<{ device_challenges: { id: string; expires_at: string } }>()
      .updateTable('device_challenges').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', sha256hex(ch)).execute();
    r = await send(ch, signChallenge(d, ch));
    expect(r.body.error.code).toBe('CHALLENGE_INVALID');
  });

  it('answers DEVICE_NOT_ENROLLED for unknown and unclaimed devices (CBOR error body)', async () => {
    const r = await h.http.post('/device/v1/auth/challenge').set('Content-Type', CBOR).send(Buffer.from(encodeCbor(new Map([['deviceId', 'nobody']])))).buffer(true).parse(binary);
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toMatch(/cbor/);
    expect(cbor(r).error.code).toBe('DEVICE_NOT_ENROLLED');
    const u = simDevice('unclaimed');
    await addDevice(h.server.ctx, u, { tenantId: null });
    const r2 = await h.http.post('/device/v1/auth/challenge').set('Accept', 'application/json').send({ deviceId: u.id });
    expect([r2.status, r2.body.error.code]).toEqual([403, 'DEVICE_NOT_ENROLLED']);
  });

  it.each([
    ['truncated CBOR map', 'a1646465', 'CBOR_MALFORMED', 400],
    ['indefinite-length map', 'bf6864657669636549646161ff', 'CBOR_INDEFINITE_LENGTH', 400],
    ['duplicate key', 'a2686465766963654964616168646576696365496461 62'.replace(/ /g, ''), 'CBOR_DUPLICATE_KEY', 400],
    ['trailing bytes', 'a1686465766963654964616100', 'CBOR_TRAILING_BYTES', 400],
    ['integer map key', 'a10161 61'.replace(/ /g, ''), 'VALIDATION_FAILED', 400],
    ['array instead of map', '80', 'VALIDATION_FAILED', 400],
  ])('refuses a malformed body (%s) with its code', async (_what, hex, code, status) => {
    const r = await h.http.post('/device/v1/auth/challenge').set('Content-Type', CBOR).set('Accept', 'application/json').send(Buffer.from(hex, 'hex'));
    expect([r.status, r.body.error.code]).toEqual([status, code]);
  });

  it('refuses oversized bodies, other media types, and polls without a token', async () => {
    let r = await h.http.post('/device/v1/auth/challenge').set('Content-Type', CBOR).set('Accept', 'application/json').send(Buffer.alloc(10_000, 0x41));
    expect([r.status, r.body.error.code]).toEqual([413, 'INPUT_TOO_LARGE']);
    r = await h.http.post('/device/v1/auth/challenge').set('Content-Type', 'text/plain').set('Accept', 'application/json').send('hi');
    expect([r.status, r.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    r = await h.http.get('/device/v1/poll').set('Accept', 'application/json');
    expect([r.status, r.body.error.code]).toEqual([401, 'AUTH_REQUIRED']);
    r = await h.http.get('/device/v1/poll').set('Authorization', 'Bearer sdt_forged').set('Accept', 'application/json');
    expect([r.status, r.body.error.code]).toEqual([401, 'AUTH_REQUIRED']);
  });
});

describe('poll, downloads, reports', () => {
  const devs: SimDevice[] = [];
  const toks: string[] = [];
  let rolloutId = '';

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) {
      const d = simDevice(`pd-${i}`);
      await addDevice(h.server.ctx, d, { tenantId: 't1', tags: ['eu'] });
      devs.push(d);
      toks.push(await token(d));
    }
  });

  it('answers "none" with an ETag and 304 when nothing changed; validates the query', async () => {
    const r = await poll(toks[0]!);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/cbor/);
    const b = cbor(r);
    expect(b.status).toBe('none');
    expect(b.pollAfter).toBeGreaterThanOrEqual(270);
    expect(b.pollAfter).toBeLessThanOrEqual(330);
    const again = await h.http.get('/device/v1/poll?seq=1').set(bearer(toks[0]!)).set('If-None-Match', r.headers['etag']!);
    expect(again.status).toBe(304);
    for (const q of ['seq=-1', 'seq=abc', 'digest=XYZ', 'bogus=1']) {
      const bad = await h.http.get(`/device/v1/poll?${q}`).set(bearer(toks[0]!)).set('Accept', 'application/json');
      expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    const cls = await h.http.get('/device/v1/poll?class=other-class').set(bearer(toks[0]!)).set('Accept', 'application/json');
    expect(cls.body.error.code).toBe('CLASS_MISMATCH');
  });

  it('offers the update of a started rollout, with the envelope, a nonce and the full image', async () => {
    const c = await h.http.post('/api/v1/rollouts').set(bearer(operator)).send({
      name: 'r2', releaseId: rel2.id, target: { kind: 'tags', tags: ['eu'] },
      phases: [{ count: 2, success: { confirmedPercent: 100, minDevices: 2 }, errorThreshold: { maxFailed: 2 } }, { percent: 100 }],
    });
    expect(c.status).toBe(201);
    rolloutId = c.body.id;
    const r = await poll(toks[0]!);
    const b = cbor(r);
    expect(b.status).toBe('update');
    expect(b.release).toMatchObject({ id: rel2.id, sequence: 2 });
    expect(b.assignment.nonce).toBeInstanceOf(Uint8Array);
    expect(b.assignment.nonce.length).toBe(16);
    expect(b.envelope).toBeInstanceOf(Uint8Array);
    expect(b.payloads).toEqual([{ component: 0, kind: 'full', sha256: sha256hex(img2), size: img2.length, url: `/device/v1/payloads/${sha256hex(img2)}` }]);
    expect((await h.http.get('/device/v1/poll?seq=1').set(bearer(toks[0]!)).set('If-None-Match', r.headers['etag']!)).status).toBe(304);
    // count phase of 2: the third device waits
    expect(cbor(await poll(toks[1]!)).status).toBe('update');
    expect(cbor(await poll(toks[2]!)).status).toBe('none');
    const v = await h.http.get(`/api/v1/rollouts/${rolloutId}`).set(bearer(operator));
    expect(v.body.counts.assigned).toBe(2);
    expect(v.body.admitted).toBe(2);
  });

  it('serves payloads with Range (206, 416) and refuses objects outside the assignment', async () => {
    const sha = sha256hex(img2);
    const full = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(toks[0]!)).buffer(true).parse(binary);
    expect(full.status).toBe(200);
    expect(sha256hex(new Uint8Array(full.body as Buffer))).toBe(sha);
    expect(full.headers['accept-ranges']).toBe('bytes');
    const part = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(toks[0]!)).set('Range', 'bytes=5000-5023').buffer(true).parse(binary);
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 5000-5023/${img2.length}`);
    expect(Buffer.from(part.body as Buffer).toString()).toBe('version two changes here');
    const resume = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(toks[0]!)).set('Range', 'bytes=19990-').buffer(true).parse(binary);
    expect([resume.status, (resume.body as Buffer).length]).toEqual([206, 10]);
    const past = await h.http.get(`/device/v1/payloads/${sha}`).set(bearer(toks[0]!)).set('Range', 'bytes=999999-').set('Accept', 'application/json');
    expect([past.status, past.body.error.code, past.headers['content-range']]).toEqual([416, 'RANGE_NOT_SATISFIABLE', `bytes */${img2.length}`]);
    const other = await h.http.get(`/device/v1/payloads/${sha256hex(img1)}`).set(bearer(toks[0]!)).set('Accept', 'application/json');
    expect([other.status, other.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const env = await h.http.get(`/device/v1/releases/${rel2.id}/envelope`).set(bearer(toks[0]!)).buffer(true).parse(binary);
    expect(sha256hex(new Uint8Array(env.body as Buffer))).toBe(rel2.envelopeSha256);
  });

  it('offers a delta when a patch exists for the device\'s current digest', async () => {
    const api = deviceApi(h.server.ctx);
    const rel1 = (await h.server.ctx.store.findRelease('vendor-1', 'class-1', 1n))!;
    expect(await api.deltas.scheduleDeltas(rel2)).toBe(1);
    await api.deltas.idle();
    const [dl] = await api.deltas.listForRelease(rel2.id);
    expect(dl).toMatchObject({ state: 'ready', fromSha256: sha256hex(img1), toSha256: sha256hex(img2) });
    expect(dl!.size!).toBeLessThan(img2.length);
    expect(rel1.components[0]!.digest).toBe(sha256hex(img1));
    const b = cbor(await poll(toks[0]!, `seq=1&digest=${sha256hex(img1)}`));
    const delta = b.payloads.find((p: any) => p.kind === 'delta');
    expect(delta).toMatchObject({ component: 0, from: sha256hex(img1), to: sha256hex(img2), sha256: dl!.patchSha256, size: dl!.size });
    const got = await h.http.get(delta.url).set(bearer(toks[0]!)).buffer(true).parse(binary);
    expect(sha256hex(new Uint8Array(got.body as Buffer))).toBe(dl!.patchSha256);
    // no delta for an unknown precursor
    const b2 = cbor(await poll(toks[1]!, `seq=1&digest=${'ab'.repeat(32)}`));
    expect(b2.payloads.map((p: any) => p.kind)).toEqual(['full']);
  });

  it('verifies signed reports: valid, wrong nonce, wrong key, status not matching the signed result', async () => {
    const b = cbor(await poll(toks[0]!, 'seq=1'));
    const id = b.assignment.id as string;
    const nonce = b.assignment.nonce as Uint8Array;
    let r = await report(toks[0]!, id, 'downloading', signedReport(devs[0]!, nonce, 'downloading'));
    expect(r.status).toBe(200);
    expect(cbor(r)).toMatchObject({ assignment: { id, state: 'downloading' }, recorded: true, rolloutState: 'running' });
    r = await report(toks[0]!, id, 'installed', signedReport(devs[0]!, new Uint8Array(16), 'installed'));
    expect([r.status, cbor(r).error.code]).toEqual([401, 'CHALLENGE_INVALID']);
    r = await report(toks[0]!, id, 'installed', signedReport(simDevice('x'), nonce, 'installed'));
    expect(r.status).toBe(422);
    expect(['KEY_UNTRUSTED', 'SIGNATURE_INVALID']).toContain(cbor(r).error.code);
    // a signature by the right key over other bytes
    const good = Buffer.from(signedReport(devs[0]!, nonce, 'installed'));
    good[good.length - 1]! ^= 1;
    r = await report(toks[0]!, id, 'installed', new Uint8Array(good));
    expect([r.status, cbor(r).error.code]).toEqual([422, 'SIGNATURE_INVALID']);
    r = await report(toks[0]!, id, 'confirmed', signedReport(devs[0]!, nonce, 'confirmed', { failCode: 0x5b }));
    expect([r.status, cbor(r).error.code]).toEqual([400, 'REPORT_MALFORMED']);
    r = await report(toks[0]!, id, 'confirmed', signedReport(devs[0]!, nonce, 'confirmed', { status: 'installed' }));
    expect(cbor(r).error.code).toBe('REPORT_MALFORMED');
    r = await report(toks[0]!, id, 'installed', new Uint8Array([0x84, 0x40]));
    expect(r.status).toBe(400);
    expect(['CBOR_MALFORMED', 'COSE_MALFORMED']).toContain(cbor(r).error.code);
    // another device cannot report on this assignment
    r = await report(toks[1]!, id, 'installed', signedReport(devs[1]!, nonce, 'installed'));
    expect([r.status, cbor(r).error.code]).toEqual([404, 'NOT_FOUND']);
    // a replayed older status does not move the assignment back
    r = await report(toks[0]!, id, 'confirmed', signedReport(devs[0]!, nonce, 'confirmed', { status: 'confirmed' }));
    expect(cbor(r).assignment.state).toBe('confirmed');
    r = await report(toks[0]!, id, 'downloading', signedReport(devs[0]!, nonce, 'downloading'));
    expect(cbor(r)).toMatchObject({ assignment: { state: 'confirmed' }, recorded: false });
    const hist = await h.http.get(`/api/v1/rollouts/${rolloutId}`).set(bearer(operator));
    expect(hist.body.counts.confirmed).toBe(1);
  });

  it('advances the phase when its success condition holds', async () => {
    const b = cbor(await poll(toks[1]!, 'seq=1'));
    const r = await report(toks[1]!, b.assignment.id, 'confirmed', signedReport(devs[1]!, b.assignment.nonce, 'confirmed'));
    expect(cbor(r).rolloutState).toBe('running');
    const v = await h.http.get(`/api/v1/rollouts/${rolloutId}`).set(bearer(operator));
    expect(v.body.phase).toBe(1);
    // phase 2 (100%) admits the devices that waited
    expect(cbor(await poll(toks[2]!)).status).toBe('update');
    // the confirmed device, now on seq 2, gets nothing
    expect(cbor(await poll(toks[0]!, 'seq=2')).status).toBe('none');
  });

  it('answers 410 for a report on a superseded assignment; the newer rollout wins', async () => {
    const old = cbor(await poll(toks[3]!, 'seq=1'));
    expect(old.release.sequence).toBe(2);
    rel3 = await addRelease(h.server.ctx, { sequence: 3, image: img3 });
    const c = await h.http.post('/api/v1/rollouts').set(bearer(operator)).send({ name: 'r3', releaseId: rel3.id, target: { kind: 'devices', deviceIds: [devs[3]!.id] } });
    expect(c.status).toBe(201);
    // the device reports on its old assignment before polling again
    let r = await report(toks[3]!, old.assignment.id, 'downloading', signedReport(devs[3]!, old.assignment.nonce, 'downloading'));
    expect([r.status, cbor(r).error.code]).toEqual([410, 'GONE']);
    const now = cbor(await poll(toks[3]!, 'seq=1'));
    expect(now.release.sequence).toBe(3);
    r = await report(toks[3]!, now.assignment.id, 'downloading', signedReport(devs[3]!, now.assignment.nonce, 'downloading'));
    expect(r.status).toBe(200);
    // cancelling the rollout cancels open assignments: their reports are gone too
    expect((await h.http.post(`/api/v1/rollouts/${c.body.id}/cancel`).set(bearer(operator))).body.state).toBe('cancelled');
    r = await report(toks[3]!, now.assignment.id, 'installed', signedReport(devs[3]!, now.assignment.nonce, 'installed'));
    expect([r.status, cbor(r).error.code]).toEqual([410, 'GONE']);
  });

  it('pauses the rollout automatically when the error threshold is reached', async () => {
    const d = simDevice('pd-fail');
    await addDevice(h.server.ctx, d, { tenantId: 't1', tags: ['x'] });
    const tok = await token(d);
    const c = await h.http.post('/api/v1/rollouts').set(bearer(operator)).send({
      name: 'fails', releaseId: rel2.id, target: { kind: 'filter', tags: 'x & !eu', sequenceBelow: 2 },
      phases: [{ percent: 100, errorThreshold: { maxFailed: 1 } }],
    });
    const b = cbor(await poll(tok));
    expect(b.status).toBe('update');
    const r = await report(tok, b.assignment.id, 'failed', signedReport(d, b.assignment.nonce, 'failed', { failCode: 0x5b }));
    expect(cbor(r)).toMatchObject({ assignment: { state: 'failed' }, rolloutState: 'paused' });
    const v = await h.http.get(`/api/v1/rollouts/${c.body.id}`).set(bearer(operator));
    expect(v.body).toMatchObject({ state: 'paused', counts: { failed: 1 } });
    expect(v.body.pauseReason).toMatch(/error threshold/);
    const audit = await h.http.get('/api/v1/audit?limit=1000').set(bearer(ADMIN));
    if (audit.status === 200) {
      const actions = JSON.stringify(audit.body);
      expect(actions).toContain('rollout.auto-pause');
    }
  });

  it('stops devices with the kill switch', async () => {
    const until = new Date(Date.now() + 3600_000).toISOString();
    expect((await h.http.put('/api/v1/rollouts/kill-switch').set(bearer(operator)).send({ until, reason: 'bad batch' })).status).toBe(200);
    const b = cbor(await poll(toks[2]!));
    expect(b).toMatchObject({ status: 'paused', reason: 'bad batch', until });
    expect(b.pollAfter).toBeGreaterThan(3000);
    expect((await h.http.delete('/api/v1/rollouts/kill-switch').set(bearer(operator))).status).toBe(204);
    expect(cbor(await poll(toks[2]!)).status).toBe('update');
  });

  it('rate-limits per token with 429 and Retry-After', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const r = await h.http.get('/device/v1/poll').set(bearer(toks[1]!)).set('Accept', 'application/json');
      if (r.status === 429) limited = r;
    }
    expect(limited).toBeDefined();
    expect(limited!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

describe('nonce helpers', () => {
  it('fromHex round trip used for nonces', () => {
    expect(fromHex('00ff').length).toBe(2);
  });
});
