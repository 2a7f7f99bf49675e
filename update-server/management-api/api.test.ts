/** /api/v1 end to end through supertest, every response checked against the OpenAPI document. */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordReport } from '../services/reports.js';
import { verifyAuditChain } from '../state/index.js';
import { fakeEnvelope, fakeKey, type FakeEnvelope } from '../testing/fake-verifier.js';
import { ADMIN, bearer, makeHarness, type Harness } from '../testing/harness.js';
import { makeRequestChecker } from '../testing/openapi-check.js';
import { buildOpenApi } from '../openapi.js';
import { defaultMounts } from '../mounts.js';

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const V = 'v-acme';
const C = 'c-sensor';
const img1 = Buffer.from('firmware image one '.repeat(500));
const img2 = Buffer.from('firmware image two '.repeat(700));
const admin = bearer(ADMIN);
const env = (over: Partial<FakeEnvelope> = {}): Buffer =>
  fakeEnvelope({ vendorId: V, classId: C, sequence: 1, version: '1.0.0', components: [{ digest: sha(img1), size: img1.length }], signedBy: ['aa01'], ...over });

let h: Harness;
let opAcme: string;
let viewAcme: string;
let opBeta: string;
let rm: string;

beforeAll(async () => {
  h = await makeHarness();
  opAcme = await h.tenantToken('acme', 'operator');
  viewAcme = await h.tenantToken('acme', 'viewer');
  opBeta = await h.tenantToken('beta', 'operator');
  rm = await h.tenantToken('vendor', 'release-manager');
});
afterAll(async () => h.close());

describe('authentication and roles', () => {
  it('401 without, with a malformed, or with an unknown token', async () => {
    for (const hdr of [undefined, 'Basic abc', 'Bearer ', `Bearer ${'x'.repeat(600)}`, 'Bearer suit_unknown']) {
      const req = h.http.get('/api/v1/devices');
      const res = hdr === undefined ? await req : await req.set('Authorization', hdr);
      expect([res.status, res.body.error.code]).toEqual([401, 'AUTH_REQUIRED']);
      h.check(res, 'get', '/api/v1/devices');
    }
  });
  it('403 when the role lacks the permission', async () => {
    const a = await h.http.post('/api/v1/tenants').set(bearer(opAcme)).send({ id: 'x1', name: 'x' });
    expect([a.status, a.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const b = await h.http.post('/api/v1/groups').set(bearer(viewAcme)).send({ name: 'g' });
    expect([b.status, b.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const c = await h.http.put(`/api/v1/payloads/${sha(img1)}`).set(bearer(opAcme)).set('Content-Type', 'application/octet-stream').send(img1);
    expect([c.status, c.body.error.code]).toEqual([403, 'FORBIDDEN']);
  });
  it('tokens: issue (secret once), list without secrets or hashes, revoke → 401', async () => {
    const t = await h.http.post('/api/v1/tokens').set(admin).send({ role: 'viewer', tenantId: 'acme', label: 'temp' });
    h.check(t, 'post', '/api/v1/tokens');
    expect(t.status).toBe(201);
    const list = await h.http.get('/api/v1/tokens').set(admin);
    h.check(list, 'get', '/api/v1/tokens');
    expect(JSON.stringify(list.body)).not.toContain(t.body.token);
    expect(JSON.stringify(list.body)).not.toContain(sha(t.body.token));
    expect((await h.http.get('/api/v1/devices').set(bearer(t.body.token))).status).toBe(200);
    const del = await h.http.delete(`/api/v1/tokens/${t.body.id}`).set(admin);
    expect(del.status).toBe(204);
    expect((await h.http.delete(`/api/v1/tokens/${t.body.id}`).set(admin)).status).toBe(409);
    expect((await h.http.get('/api/v1/devices').set(bearer(t.body.token))).status).toBe(401);
  });
  it('non-admin tokens must have a tenant; unknown tenant 404', async () => {
    const a = await h.http.post('/api/v1/tokens').set(admin).send({ role: 'operator', label: 'x' });
    expect([a.status, a.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const b = await h.http.post('/api/v1/tokens').set(admin).send({ role: 'operator', tenantId: 'ghost', label: 'x' });
    expect([b.status, b.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const c = await h.http.post('/api/v1/tokens').set(admin).send({ role: 'root', tenantId: 'acme', label: 'x' });
    expect([c.status, c.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });
  it('tenants: create, duplicate 409, a tenant token lists only its own', async () => {
    const dup = await h.http.post('/api/v1/tenants').set(admin).send({ id: 'acme', name: 'again' });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'CONFLICT']);
    h.check(dup, 'post', '/api/v1/tenants');
    const mine = await h.http.get('/api/v1/tenants').set(bearer(opAcme));
    h.check(mine, 'get', '/api/v1/tenants');
    expect(mine.body.items.map((t: { id: string }) => t.id)).toEqual(['acme']);
    const bad = await h.http.post('/api/v1/tenants').set(admin).send({ id: '../etc', name: 'x' });
    expect(bad.status).toBe(400);
  });
});

describe('trust anchors', () => {
  it('adds PEM keys, is idempotent, sets the policy, refuses private and malformed keys', async () => {
    const a = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('aa01') });
    h.check(a, 'post', '/api/v1/anchors/{vendorId}/keys');
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ vendorId: V, kid: 'aa01' });
    const again = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('aa01') });
    expect(again.status).toBe(200);
    await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('bb02') }).expect(201);
    const priv = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: '-----BEGIN PRIVATE KEY-----\nFAKE:cc\n-----END PRIVATE KEY-----' });
    expect([priv.status, priv.body.error.code]).toEqual([400, 'KEY_MALFORMED']);
    const junk = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'cose', key: 'zz' });
    expect([junk.status, junk.body.error.code]).toEqual([400, 'KEY_MALFORMED']);
    const byRm = await h.http.post(`/api/v1/anchors/${V}/keys`).set(bearer(rm)).send({ format: 'pem', key: fakeKey('dd') });
    expect(byRm.status).toBe(403);
    const pol = await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 1 });
    h.check(pol, 'put', '/api/v1/anchors/{vendorId}/policy');
    expect(pol.body).toMatchObject({ vendorId: V, threshold: 1 });
    expect(pol.body.keys).toHaveLength(2);
    expect((await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 0 })).status).toBe(400);
    const set = await h.http.get(`/api/v1/anchors/${V}`).set(bearer(viewAcme));
    h.check(set, 'get', '/api/v1/anchors/{vendorId}');
    const all = await h.http.get('/api/v1/anchors').set(admin);
    h.check(all, 'get', '/api/v1/anchors');
    expect((await h.http.get('/api/v1/anchors/nobody').set(admin)).status).toBe(404);
  });
  it('revokes a key; a revoked key cannot be re-added', async () => {
    await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('ee05') }).expect(201);
    expect((await h.http.delete(`/api/v1/anchors/${V}/keys/ee05`).set(admin)).status).toBe(204);
    expect((await h.http.delete(`/api/v1/anchors/${V}/keys/ee05`).set(admin)).status).toBe(404);
    const re = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('ee05') });
    expect([re.status, re.body.error.code]).toEqual([409, 'CONFLICT']);
  });
});

describe('payloads', () => {
  it('streams a payload, checks the digest, is idempotent', async () => {
    const put = await h.http.put(`/api/v1/payloads/${sha(img1)}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').send(img1);
    h.check(put, 'put', '/api/v1/payloads/{sha256}');
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ sha256: sha(img1), size: img1.length });
    const again = await h.http.put(`/api/v1/payloads/${sha(img1)}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').send(img1);
    expect(again.status).toBe(200);
    const get = await h.http.get(`/api/v1/payloads/${sha(img1)}`).set(bearer(viewAcme));
    h.check(get, 'get', '/api/v1/payloads/{sha256}');
    const list = await h.http.get('/api/v1/payloads').set(admin);
    h.check(list, 'get', '/api/v1/payloads');
    expect(list.body.items).toHaveLength(1);
  });
  it('a wrong digest stores nothing (422), bad path 400, wrong type 415, too large 413', async () => {
    const wrong = sha('something else');
    const r = await h.http.put(`/api/v1/payloads/${wrong}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').send(img2);
    expect([r.status, r.body.error.code]).toEqual([422, 'PAYLOAD_DIGEST_MISMATCH']);
    h.check(r, 'put', '/api/v1/payloads/{sha256}');
    expect((await h.http.get(`/api/v1/payloads/${wrong}`).set(admin)).status).toBe(404);
    expect(await h.server.ctx.objects.head(`payloads/${wrong}`)).toBeNull();
    const bad = await h.http.put('/api/v1/payloads/XYZ').set(bearer(rm)).set('Content-Type', 'application/octet-stream').send(img2);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const t = await h.http.put(`/api/v1/payloads/${sha(img2)}`).set(bearer(rm)).set('Content-Type', 'application/json').send('{}');
    expect([t.status, t.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const saved = h.server.ctx.config.payloadMaxBytes;
    h.server.ctx.config.payloadMaxBytes = 100;
    const big = await h.http.put(`/api/v1/payloads/${sha(img2)}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').send(img2);
    h.server.ctx.config.payloadMaxBytes = saved;
    expect([big.status, big.body.error.code]).toEqual([413, 'INPUT_TOO_LARGE']);
  });
  it('resumable upload with Content-Range: chunk, status, wrong offset 409 with Upload-Offset, completion', async () => {
    const s = sha(img2);
    const n = img2.length;
    const first = await h.http.put(`/api/v1/payloads/${s}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').set('Content-Range', `bytes 0-999/${n}`).send(img2.subarray(0, 1000));
    h.check(first, 'put', '/api/v1/payloads/{sha256}');
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ sha256: s, size: n, offset: 1000, complete: false });
    const st = await h.http.get(`/api/v1/payloads/${s}/upload`).set(bearer(rm));
    h.check(st, 'get', '/api/v1/payloads/{sha256}/upload');
    expect(st.body.offset).toBe(1000);
    const q = await h.http.put(`/api/v1/payloads/${s}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').set('Content-Range', `bytes */${n}`).send(Buffer.alloc(0));
    expect([q.status, q.headers['upload-offset']]).toEqual([200, '1000']);
    const gap = await h.http.put(`/api/v1/payloads/${s}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').set('Content-Range', `bytes 2000-2099/${n}`).send(img2.subarray(2000, 2100));
    expect([gap.status, gap.body.error.code, gap.headers['upload-offset']]).toEqual([409, 'CONFLICT', '1000']);
    expect((await h.http.get(`/api/v1/payloads/${s}`).set(admin)).status).toBe(404);
    const rest = await h.http.put(`/api/v1/payloads/${s}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').set('Content-Range', `bytes 1000-${n - 1}/${n}`).send(img2.subarray(1000));
    expect(rest.status).toBe(201);
    h.check(rest, 'put', '/api/v1/payloads/{sha256}');
    expect((await h.http.get(`/api/v1/payloads/${s}`).set(admin)).body.size).toBe(n);
    const badRange = await h.http.put(`/api/v1/payloads/${sha('q')}`).set(bearer(rm)).set('Content-Type', 'application/octet-stream').set('Content-Range', 'bytes 5-1/10').send(Buffer.alloc(1));
    expect(badRange.status).toBe(400);
  });
  it('downloads with Range: 206, suffix range, 416', async () => {
    const s = sha(img1);
    const full = await h.http.get(`/api/v1/payloads/${s}/content`).set(admin).buffer(true);
    expect(full.status).toBe(200);
    expect(full.headers['accept-ranges']).toBe('bytes');
    const part = await h.http.get(`/api/v1/payloads/${s}/content`).set(admin).set('Range', 'bytes=9-13').buffer(true);
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 9-13/${img1.length}`);
    expect(Buffer.from(part.body as Buffer).toString()).toBe('image');
    const tail = await h.http.get(`/api/v1/payloads/${s}/content`).set(admin).set('Range', 'bytes=-5').buffer(true);
    expect(Buffer.from(tail.body as Buffer).equals(img1.subarray(-5))).toBe(true);
    const out = await h.http.get(`/api/v1/payloads/${s}/content`).set(admin).set('Range', `bytes=${img1.length}-`);
    expect([out.status, out.body.error.code, out.headers['content-range']]).toEqual([416, 'RANGE_NOT_SATISFIABLE', `bytes */${img1.length}`]);
  });
});

let rel1: string;
describe('releases', () => {
  const post = (body: Buffer, token = rm, type = 'application/suit-envelope+cose') =>
    h.http.post('/api/v1/releases').set(bearer(token)).set('Content-Type', type).send(body);

  it('creates a verified release, records its fields, is idempotent', async () => {
    const res = await post(env());
    h.check(res, 'post', '/api/v1/releases');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ vendorId: V, classId: C, sequence: 1, version: '1.0.0', signers: ['aa01'], deprecated: false });
    expect(res.body.components[0]).toMatchObject({ digest: sha(img1), size: img1.length });
    rel1 = res.body.id;
    expect(rel1).toBe(sha(env()));
    const again = await post(env(), rm, 'application/cbor');
    expect([again.status, again.body.id]).toEqual([200, rel1]);
  });
  it('refuses what does not verify or does not fit, storing nothing', async () => {
    const cases: [Buffer, number, string][] = [
      [Buffer.from('not an envelope'), 400, 'ENVELOPE_MALFORMED'],
      [env({ sequence: 2, signedBy: ['ff99'] }), 422, 'KEY_UNTRUSTED'],
      [env({ sequence: 2, vendorId: 'v-unknown' }), 422, 'KEY_UNTRUSTED'],
      [env({ sequence: 2, components: [{ digest: sha('never uploaded'), size: 3 }] }), 422, 'PAYLOAD_MISSING'],
      [env({ sequence: 2, components: [{ digest: sha(img1), size: 5 }] }), 422, 'PAYLOAD_DIGEST_MISMATCH'],
      [env({ version: '1.0.1' }), 409, 'CONFLICT'],
      [env({ sequence: String(2n ** 64n) }), 400, 'MANIFEST_MALFORMED'], // past uint64
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      expect([res.status, res.body.error?.code], code).toEqual([status, code]);
      h.check(res, 'post', '/api/v1/releases');
    }
    // k-of-n: with threshold 2 one signature is not enough.
    await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 2 }).expect(200);
    const one = await post(env({ sequence: 3 }));
    expect([one.status, one.body.error.code]).toEqual([422, 'SIGNATURE_THRESHOLD_NOT_MET']);
    const two = await post(env({ sequence: 3, signedBy: ['aa01', 'bb02'], components: [{ digest: sha(img2), size: img2.length }] }));
    expect(two.status).toBe(201);
    await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 1 }).expect(200);
    const list = await h.http.get('/api/v1/releases').set(admin);
    expect(list.body.items.map((r: { sequence: number }) => r.sequence)).toEqual([3, 1]);
  });
  it('415 for other content types, 413 beyond the envelope limit, 403 for operators', async () => {
    const a = await post(env(), rm, 'application/json');
    expect([a.status, a.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const b = await post(Buffer.alloc(300 * 1024));
    expect([b.status, b.body.error.code]).toEqual([413, 'INPUT_TOO_LARGE']);
    const c = await post(env({ sequence: 9 }), opAcme);
    expect(c.status).toBe(403);
  });
  it('list, inspect, envelope, deprecate', async () => {
    const one = await h.http.get(`/api/v1/releases/${rel1}`).set(admin);
    h.check(one, 'get', '/api/v1/releases/{id}');
    const ins = await h.http.get(`/api/v1/releases/${rel1}/inspect`).set(admin);
    h.check(ins, 'get', '/api/v1/releases/{id}/inspect');
    expect(ins.body).toMatchObject({ vendorId: V, classId: C, sequenceNumber: 1 });
    const envBytes = await h.http.get(`/api/v1/releases/${rel1}/envelope`).set(admin).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(sha(envBytes.body as Buffer)).toBe(rel1);
    const dep = await h.http.post(`/api/v1/releases/${rel1}/deprecate`).set(bearer(rm)).send({});
    h.check(dep, 'post', '/api/v1/releases/{id}/deprecate');
    expect(dep.body.deprecated).toBe(true);
    const list = await h.http.get('/api/v1/releases').set(admin);
    h.check(list, 'get', '/api/v1/releases');
    expect(list.body.items.map((r: { id: string }) => r.id)).not.toContain(rel1);
    const withDep = await h.http.get('/api/v1/releases?includeDeprecated=true').set(admin);
    expect(withDep.body.items.map((r: { id: string }) => r.id)).toContain(rel1);
    await h.http.post(`/api/v1/releases/${rel1}/deprecate`).set(bearer(rm)).send({ deprecated: false }).expect(200);
    expect((await h.http.get(`/api/v1/releases/${'0'.repeat(64)}`).set(admin)).status).toBe(404);
    expect((await h.http.get('/api/v1/releases/abc').set(admin)).status).toBe(400);
  });
});

describe('devices, claim, transfer, groups, tenant isolation', () => {
  let claimCode: string;
  it('the vendor registers a device; the server makes a claim code and shows it once', async () => {
    const res = await h.http.post('/api/v1/devices').set(bearer(rm)).send({ id: 'dev-1', vendorId: V, classId: C, identityKey: fakeKey('d1'), currentSeq: 0 });
    h.check(res, 'post', '/api/v1/devices');
    expect(res.status).toBe(201);
    claimCode = res.body.claimCode;
    expect(claimCode).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
    expect(res.body.device).toMatchObject({ id: 'dev-1', claimed: false, tenantId: null });
    const dup = await h.http.post('/api/v1/devices').set(bearer(rm)).send({ id: 'dev-1', vendorId: V, classId: C, identityKey: fakeKey('d1') });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'CONFLICT']);
    const badKey = await h.http.post('/api/v1/devices').set(bearer(rm)).send({ id: 'dev-x', vendorId: V, classId: C, identityKey: 'nothex!' });
    expect(badKey.status).toBe(400);
    const intoTenant = await h.http.post('/api/v1/devices').set(bearer(rm)).send({ id: 'dev-x', vendorId: V, classId: C, identityKey: fakeKey('dx'), tenantId: 'acme' });
    expect(intoTenant.status).toBe(403);
    const byAdmin = await h.http.post('/api/v1/devices').set(admin).send({ id: 'dev-b1', vendorId: V, classId: C, identityKey: fakeKey('b1'), tenantId: 'beta', tags: ['eu'] });
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body.claimCode).toBeUndefined();
    // Registration by a supplied code (printed on the packaging) returns no code.
    const supplied = await h.http.post('/api/v1/devices').set(bearer(rm)).send({ id: 'dev-2', vendorId: V, classId: C, identityKey: fakeKey('d2'), claimCode: 'PACK-AGE-CODE-1234' });
    expect(supplied.body.claimCode).toBeUndefined();
  });
  it('claim: wrong code 404, right code claims, a spent code cannot be reused', async () => {
    const wrong = await h.http.post('/api/v1/devices/claim').set(bearer(opAcme)).send({ deviceId: 'dev-1', claimCode: 'AAAA-BBBB-CCCC-DDDD' });
    expect([wrong.status, wrong.body.error.code]).toEqual([404, 'NOT_FOUND']);
    h.check(wrong, 'post', '/api/v1/devices/claim');
    const ok = await h.http.post('/api/v1/devices/claim').set(bearer(opAcme)).send({ deviceId: 'dev-1', claimCode: claimCode.toLowerCase().replace(/-/g, ' ') });
    h.check(ok, 'post', '/api/v1/devices/claim');
    expect(ok.body).toMatchObject({ id: 'dev-1', tenantId: 'acme', claimed: true });
    const again = await h.http.post('/api/v1/devices/claim').set(bearer(opBeta)).send({ deviceId: 'dev-1', claimCode });
    expect(again.status).toBe(404);
    const mine = await h.http.post('/api/v1/devices/claim').set(bearer(opAcme)).send({ deviceId: 'dev-1', claimCode });
    expect(mine.status).toBe(409);
    const supplied = await h.http.post('/api/v1/devices/claim').set(bearer(opAcme)).send({ deviceId: 'dev-2', claimCode: 'package-code-9999' });
    expect(supplied.status).toBe(404);
    const ok2 = await h.http.post('/api/v1/devices/claim').set(bearer(opAcme)).send({ deviceId: 'dev-2', claimCode: 'PACKAGECODE1234' });
    expect(ok2.status).toBe(200);
    const adminNoTenant = await h.http.post('/api/v1/devices/claim').set(admin).send({ deviceId: 'dev-2', claimCode: 'x' });
    expect(adminNoTenant.status).toBe(400);
  });
  it('tenant isolation: devices, groups, reports, releases', async () => {
    const acme = await h.http.get('/api/v1/devices').set(bearer(viewAcme));
    h.check(acme, 'get', '/api/v1/devices');
    expect(acme.body.items.map((d: { id: string }) => d.id)).toEqual(['dev-1', 'dev-2']);
    const beta = await h.http.get('/api/v1/devices').set(bearer(opBeta));
    expect(beta.body.items.map((d: { id: string }) => d.id)).toEqual(['dev-b1']);
    const cross = await h.http.get('/api/v1/devices/dev-1').set(bearer(opBeta));
    expect([cross.status, cross.body.error.code]).toEqual([404, 'NOT_FOUND']);
    h.check(cross, 'get', '/api/v1/devices/{id}');
    expect((await h.http.put('/api/v1/devices/dev-1/tags').set(bearer(opBeta)).send({ tags: ['x'] })).status).toBe(404);
    expect((await h.http.post('/api/v1/devices/dev-1/release').set(bearer(opBeta))).status).toBe(404);
    const all = await h.http.get('/api/v1/devices').set(admin);
    expect(all.body.items.length).toBe(3);
    // Releases of a vendor are visible to tenants whose devices fit them.
    expect((await h.http.get(`/api/v1/releases/${rel1}`).set(bearer(opBeta))).status).toBe(200);
    const other = await h.http.post('/api/v1/tenants').set(admin).send({ id: 'gamma', name: 'G' });
    expect(other.status).toBe(201);
    const tok = await h.http.post('/api/v1/tokens').set(admin).send({ role: 'viewer', tenantId: 'gamma', label: 'g' });
    expect((await h.http.get(`/api/v1/releases/${rel1}`).set(bearer(tok.body.token))).status).toBe(404);
    expect((await h.http.get('/api/v1/releases').set(bearer(tok.body.token))).body.items).toEqual([]);
  });
  it('device state: pending update, tags', async () => {
    const d = await h.http.get('/api/v1/devices/dev-1').set(bearer(opAcme));
    h.check(d, 'get', '/api/v1/devices/{id}');
    // Without a rollouts hook the default is "latest release of the class if newer"; rollouts/ may own it.
    if (h.server.ctx.hooks.pendingUpdate === undefined) expect(d.body.pendingUpdate).toMatchObject({ sequence: 3, source: 'latest' });
    const { defaultPendingUpdate } = await import('./devices.js');
    const rec = await h.server.ctx.store.getDevice('dev-1');
    expect(await defaultPendingUpdate(rec!, h.server.ctx.store)).toMatchObject({ sequence: 3n, source: 'latest' });
    const t = await h.http.put('/api/v1/devices/dev-1/tags').set(bearer(opAcme)).send({ tags: ['eu', 'canary'] });
    h.check(t, 'put', '/api/v1/devices/{id}/tags');
    expect(t.body.tags).toEqual(['canary', 'eu']);
    const bad = await h.http.put('/api/v1/devices/dev-1/tags').set(bearer(opAcme)).send({ tags: ['bad tag!'] });
    expect(bad.status).toBe(400);
    const byTag = await h.http.get('/api/v1/devices?tag=canary').set(bearer(opAcme));
    expect(byTag.body.items.map((x: { id: string }) => x.id)).toEqual(['dev-1']);
  });
  it('groups: create, add, list, cross-tenant refused, remove, delete', async () => {
    const g = await h.http.post('/api/v1/groups').set(bearer(opAcme)).send({ name: 'line-1' });
    h.check(g, 'post', '/api/v1/groups');
    expect(g.status).toBe(201);
    const add = await h.http.put(`/api/v1/groups/${g.body.id}/devices/dev-1`).set(bearer(opAcme));
    h.check(add, 'put', '/api/v1/groups/{id}/devices/{deviceId}');
    expect(add.body.size).toBe(1);
    expect((await h.http.put(`/api/v1/groups/${g.body.id}/devices/dev-b1`).set(bearer(opAcme))).status).toBe(404);
    expect((await h.http.put(`/api/v1/groups/${g.body.id}/devices/dev-b1`).set(admin)).status).toBe(404);
    expect((await h.http.get(`/api/v1/groups/${g.body.id}`).set(bearer(opBeta))).status).toBe(404);
    expect((await h.http.post('/api/v1/groups').set(bearer(opAcme)).send({ name: 'line-1' })).status).toBe(409);
    expect((await h.http.post('/api/v1/groups').set(bearer(opAcme)).send({ name: 'x', tenantId: 'beta' })).status).toBe(403);
    const list = await h.http.get('/api/v1/groups').set(bearer(viewAcme));
    h.check(list, 'get', '/api/v1/groups');
    expect(list.body.items.map((x: { name: string }) => x.name)).toEqual(['line-1']);
    expect((await h.http.get('/api/v1/groups').set(bearer(opBeta))).body.items).toEqual([]);
    const members = await h.http.get(`/api/v1/devices?group=${g.body.id}`).set(bearer(opAcme));
    expect(members.body.items.map((x: { id: string; groups: string[] }) => [x.id, x.groups])).toEqual([['dev-1', ['line-1']]]);
    const g2 = await h.http.post('/api/v1/groups').set(bearer(opAcme)).send({ name: 'tmp' });
    await h.http.put(`/api/v1/groups/${g2.body.id}/devices/dev-2`).set(bearer(opAcme)).expect(200);
    expect((await h.http.delete(`/api/v1/groups/${g2.body.id}/devices/dev-2`).set(bearer(opAcme))).status).toBe(204);
    expect((await h.http.delete(`/api/v1/groups/${g2.body.id}/devices/dev-2`).set(bearer(opAcme))).status).toBe(404);
    expect((await h.http.delete(`/api/v1/groups/${g2.body.id}`).set(bearer(opAcme))).status).toBe(204);
    expect((await h.http.get(`/api/v1/groups/${g2.body.id}`).set(bearer(opAcme))).status).toBe(404);
  });
  it('reports history and the compliance summary', async () => {
    const ctx = h.server.ctx;
    await recordReport(ctx, { deviceId: 'dev-1', releaseId: null, result: 'in_progress', sequence: null, digest: null, body: { step: 'download' } });
    await recordReport(ctx, { deviceId: 'dev-2', releaseId: null, result: 'failed', sequence: null, digest: null, body: { code: 'IMAGE_MISMATCH' } });
    await recordReport(ctx, { deviceId: 'dev-b1', releaseId: null, result: 'success', sequence: 3n, digest: sha(img2), body: {} });
    const hist = await h.http.get('/api/v1/devices/dev-1/reports').set(bearer(viewAcme));
    h.check(hist, 'get', '/api/v1/devices/{id}/reports');
    expect(hist.body.items.map((r: { result: string }) => r.result)).toEqual(['in_progress']);
    expect((await h.http.get('/api/v1/devices/dev-1/reports').set(bearer(opBeta))).status).toBe(404);
    const reports = await h.http.get('/api/v1/reports').set(bearer(opBeta));
    h.check(reports, 'get', '/api/v1/reports');
    expect(reports.body.items.map((r: { deviceId: string }) => r.deviceId)).toEqual(['dev-b1']);
    const acme = await h.http.get('/api/v1/compliance').set(bearer(viewAcme));
    h.check(acme, 'get', '/api/v1/compliance');
    expect(acme.body.items).toEqual([{ vendorId: V, classId: C, latestSequence: 3, onLatest: 0, updateAvailable: 0, inProgress: 1, failed: 1, reverted: 0, total: 2 }]);
    const all = await h.http.get('/api/v1/compliance').set(admin);
    expect(all.body.items[0]).toMatchObject({ onLatest: 1, total: 3 });
    const dev = await h.http.get('/api/v1/devices/dev-b1').set(bearer(opBeta));
    expect(dev.body).toMatchObject({ currentSeq: 3, updateState: 'idle', pendingUpdate: null, lastReport: { result: 'success' } });
  });
  it('transfer: release returns a fresh claim code; the new owner claims with it', async () => {
    const rel = await h.http.post('/api/v1/devices/dev-1/release').set(bearer(opAcme));
    h.check(rel, 'post', '/api/v1/devices/{id}/release');
    expect(rel.body.device).toMatchObject({ claimed: false, tags: [], groups: [] });
    expect((await h.http.post('/api/v1/devices/dev-1/release').set(admin)).status).toBe(409);
    expect((await h.http.post('/api/v1/devices/claim').set(bearer(opBeta)).send({ deviceId: 'dev-1', claimCode })).status).toBe(404);
    const claim = await h.http.post('/api/v1/devices/claim').set(bearer(opBeta)).send({ deviceId: 'dev-1', claimCode: rel.body.claimCode });
    expect(claim.body.tenantId).toBe('beta');
    expect((await h.http.get('/api/v1/devices/dev-1').set(bearer(opAcme))).status).toBe(404);
  });
});

describe('audit log', () => {
  it('records every management action, pages, isolates tenants, and verifies', async () => {
    const p1 = await h.http.get('/api/v1/audit?limit=5').set(admin);
    h.check(p1, 'get', '/api/v1/audit');
    expect(p1.body.items).toHaveLength(5);
    const p2 = await h.http.get(`/api/v1/audit?after=${p1.body.next}&limit=1000`).set(admin);
    const all = [...p1.body.items, ...p2.body.items];
    expect(all.map((e: { seq: number }) => e.seq)).toEqual(all.map((_: unknown, i: number) => i + 1));
    const actions = new Set(all.map((e: { action: string }) => e.action));
    for (const a of ['token.create', 'tenant.create', 'anchor.add', 'anchor.revoke', 'anchor.policy', 'payload.upload', 'release.create', 'release.deprecate',
      'device.register', 'device.claim', 'device.release', 'device.tags', 'group.create', 'group.add', 'group.remove', 'group.delete', 'report.failed', 'token.revoke']) {
      expect(actions, a).toContain(a);
    }
    for (let i = 1; i < all.length; i++) expect(all[i].prevHash).toBe(all[i - 1].hash);
    const beta = await h.http.get('/api/v1/audit?limit=1000').set(bearer(opBeta));
    expect(beta.body.items.length).toBeGreaterThan(0);
    expect(beta.body.items.every((e: { tenantId: string }) => e.tenantId === 'beta')).toBe(true);
    expect((await h.http.get('/api/v1/audit?after=-1').set(admin)).status).toBe(400);
    expect(await verifyAuditChain(h.server.ctx.store)).toMatchObject({ ok: true, count: all.length });
  });
});

describe('requests and atomicity', () => {
  it('the request bodies the tests send match the documented request schemas (and bad ones do not)', () => {
    const check = makeRequestChecker(buildOpenApi(defaultMounts) as Record<string, any>);
    check('post', '/api/v1/tenants', { id: 'acme', name: 'Acme' });
    check('post', '/api/v1/tokens', { role: 'viewer', tenantId: 'acme', label: 'x' });
    check('post', '/api/v1/anchors/{vendorId}/keys', { format: 'pem', key: fakeKey('aa') });
    check('put', '/api/v1/anchors/{vendorId}/policy', { threshold: 2 });
    check('post', '/api/v1/devices', { id: 'd', vendorId: V, classId: C, identityKey: fakeKey('d'), tags: ['eu'] });
    check('post', '/api/v1/devices/claim', { deviceId: 'd', claimCode: 'ABCD-EFGH' });
    check('put', '/api/v1/devices/{id}/tags', { tags: ['a'] });
    check('post', '/api/v1/groups', { name: 'g' });
    expect(() => check('post', '/api/v1/tenants', { id: 'x' })).toThrow();
    expect(() => check('put', '/api/v1/anchors/{vendorId}/policy', { threshold: 'two' })).toThrow();
  });
  it('a release whose transaction fails leaves no row and no audit entry; the retry succeeds', async () => {
    const before = (await h.http.get('/api/v1/audit?limit=1000').set(admin)).body.items.length;
    const saved = h.server.ctx.hooks.onReleaseCreated;
    h.server.ctx.hooks.onReleaseCreated = async () => { throw new Error('simulated crash inside the transaction'); };
    const body = env({ sequence: 7, components: [{ digest: sha(img2), size: img2.length }] });
    const res = await h.http.post('/api/v1/releases').set(bearer(rm)).set('Content-Type', 'application/suit-envelope+cose').send(body);
    h.server.ctx.hooks.onReleaseCreated = saved;
    expect([res.status, res.body.error.code]).toEqual([500, 'INTERNAL']);
    expect(res.body.error.message).toBe('internal error');
    expect((await h.http.get(`/api/v1/releases/${sha(body)}`).set(admin)).status).toBe(404);
    expect((await h.http.get('/api/v1/audit?limit=1000').set(admin)).body.items.length).toBe(before);
    const retry = await h.http.post('/api/v1/releases').set(bearer(rm)).set('Content-Type', 'application/suit-envelope+cose').send(body);
    expect(retry.status).toBe(201);
  });
});

describe('restart', () => {
  it('stop, start: identical state through the API', async () => {
    const paths = ['/api/v1/tenants', '/api/v1/devices', '/api/v1/releases?includeDeprecated=true', '/api/v1/payloads', '/api/v1/groups',
      '/api/v1/reports', '/api/v1/compliance', '/api/v1/anchors', '/api/v1/tokens', '/api/v1/audit?limit=1000'];
    const snap = async () => Promise.all(paths.map(async (p) => (await h.http.get(p).set(admin)).body));
    const before = await snap();
    await h.restart();
    expect(await snap()).toEqual(before);
    expect((await h.http.get('/api/v1/devices').set(bearer(opBeta))).status).toBe(200);
    const dl = await h.http.get(`/api/v1/payloads/${sha(img2)}/content`).set(admin).buffer(true);
    expect(Buffer.from(dl.body as Buffer).equals(img2)).toBe(true);
  });
});
