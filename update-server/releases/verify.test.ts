/**
 * The release path through the REAL manifest/ core (no fake): a vendor key made in the test (the
 * server only ever receives its public PEM), a signed envelope from the builder, and the draft's
 * Example 0 signed with the draft's published key.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildManifest, classIdFrom, computeDigest, encodeCoseKey, encodeEnvelope, exportPublicPem, fromHex, generateKey, signEnvelope, uuidToString, vendorIdFromDomain,
} from '../../manifest/index.js';
import { readHexFixture } from '../../test/support/fixtures.js';
import { ADMIN, bearer, makeHarness, type Harness } from '../testing/harness.js';
import { manifestVerifier } from './verify.js';

const admin = bearer(ADMIN);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const DRAFT_PUB = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb
bz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==
-----END PUBLIC KEY-----`;
const example0 = (): Buffer => Buffer.from(readHexFixture('suit/example0.hex'));

describe('releases with the real SUIT/COSE core', () => {
  let h: Harness;
  const vendor = vendorIdFromDomain('acme.example');
  const cls = classIdFrom(vendor, 'sensor rev 2');
  const V = uuidToString(vendor);
  const C = uuidToString(cls);
  const image = Buffer.from('real firmware bytes '.repeat(300));
  const k1 = generateKey('ed25519');
  const k2 = generateKey('p256');

  const envelope = (seq: number, keys = [k1]) => {
    const built = buildManifest({
      sequenceNumber: seq,
      components: [{ id: [new Uint8Array([0])], vendorId: vendor, classId: cls, imageDigest: computeDigest(-16, image), imageSize: image.length }],
      version: [1, 2, seq],
    });
    return Buffer.from(encodeEnvelope(signEnvelope(built.envelope(), keys)));
  };
  const post = (b: Buffer) => h.http.post('/api/v1/releases').set(admin).set('Content-Type', 'application/suit-envelope+cose').send(b);

  beforeAll(async () => {
    h = await makeHarness({ verifier: manifestVerifier });
  });
  afterAll(async () => h.close());

  it('refuses a signed release while the vendor has no anchors (KEY_UNTRUSTED)', async () => {
    const res = await post(envelope(1));
    expect([res.status, res.body.error.code]).toEqual([422, 'KEY_UNTRUSTED']);
  });

  it('anchors from PEM carry the RFC 9679 thumbprint as kid', async () => {
    const a = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: exportPublicPem(k1) });
    expect(a.status).toBe(201);
    expect(a.body.kid).toBe(k1.kid);
    const b = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: exportPublicPem(k2) });
    expect(b.status).toBe(201);
  });

  it('a signed release whose payload is missing: 422 PAYLOAD_MISSING; after the upload: 201 with the fields', async () => {
    const env = envelope(1);
    const miss = await post(env);
    expect([miss.status, miss.body.error.code]).toEqual([422, 'PAYLOAD_MISSING']);
    await h.http.put(`/api/v1/payloads/${sha(image)}`).set(admin).set('Content-Type', 'application/octet-stream').send(image).expect(201);
    const ok = await post(env);
    h.check(ok, 'post', '/api/v1/releases');
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ vendorId: V, classId: C, sequence: 1, version: '1.2.1', signers: [k1.kid] });
    expect(ok.body.components).toEqual([{ index: 0, id: ['00'], digest: sha(image), size: image.length, uri: null }]);
    const ins = await h.http.get(`/api/v1/releases/${ok.body.id}/inspect`).set(admin);
    expect(ins.status).toBe(200);
    expect(ins.body).toMatchObject({ vendorId: V, classId: C, sequenceNumber: 1, signatures: [{ kind: 'Sign1' }] });
  });

  it('k-of-n with real signatures', async () => {
    await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 2 }).expect(200);
    const one = await post(envelope(2));
    expect([one.status, one.body.error.code]).toEqual([422, 'SIGNATURE_THRESHOLD_NOT_MET']);
    const two = await post(envelope(2, [k1, k2]));
    expect(two.status).toBe(201);
    expect([...two.body.signers].sort()).toEqual([k1.kid, k2.kid].sort());
    await h.http.put(`/api/v1/anchors/${V}/policy`).set(admin).send({ threshold: 1 }).expect(200);
  });

  it('a key of another vendor does not count; revoked keys stop counting', async () => {
    const stranger = generateKey('ed25519');
    const res = await post(envelope(3, [stranger]));
    expect(res.status).toBe(422);
    expect(res.body.error.code).toMatch(/KEY_UNTRUSTED|SIGNATURE_INVALID/);
    await h.http.delete(`/api/v1/anchors/${V}/keys/${k2.kid}`).set(admin).expect(204);
    const revoked = await post(envelope(3, [k2]));
    expect(revoked.status).toBe(422);
  });

  it('tampered bytes are refused with a 4xx code and store nothing', async () => {
    const env = envelope(4);
    for (const at of [env.length - 5, Math.floor(env.length / 2), 3]) {
      const bad = Buffer.from(env);
      bad[at] = bad[at]! ^ 0x01;
      const res = await post(bad);
      expect(res.status, `flip at ${at}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(typeof res.body.error.code).toBe('string');
    }
    const list = await h.http.get('/api/v1/releases').set(admin);
    expect(list.body.items.map((r: { sequence: number }) => r.sequence)).toEqual([2, 1]);
    const trunc = await post(env.subarray(0, 10));
    expect(trunc.status).toBe(400);
  });

  it('a COSE_Key anchor (hex) verifies like its PEM; a device identity key may be a COSE_Key too', async () => {
    const k3 = generateKey('ed25519');
    const hex = Buffer.from(encodeCoseKey(k3)).toString('hex');
    const a = await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'cose', key: hex });
    expect([a.status, a.body.kid, a.body.format]).toEqual([201, k3.kid, 'cose']);
    const ok = await post(envelope(5, [k3]));
    expect([ok.status, ok.body.signers]).toEqual([201, [k3.kid]]);
    const dev = await h.http.post('/api/v1/devices').set(admin).send({ id: 'real-1', vendorId: V, classId: C, identityKey: Buffer.from(encodeCoseKey(generateKey('ed25519'))).toString('hex') });
    expect(dev.status).toBe(201);
    const devPem = await h.http.post('/api/v1/devices').set(admin).send({ id: 'real-2', vendorId: V, classId: C, identityKey: exportPublicPem(generateKey('ed25519')) });
    expect(devPem.status).toBe(201);
    const junk = await h.http.post('/api/v1/devices').set(admin).send({ id: 'real-3', vendorId: V, classId: C, identityKey: 'abcd' });
    expect(junk.status).toBe(400);
    expect(junk.body.error.code).toMatch(/^(KEY_MALFORMED|CBOR_MALFORMED|COSE_MALFORMED)$/);
  });

  it('draft Example 0 verifies with the draft key and then needs its payload', async () => {
    const ex = example0();
    const vendor0 = 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe';
    const none = await post(ex);
    expect([none.status, none.body.error.code]).toEqual([422, 'KEY_UNTRUSTED']);
    await h.http.post(`/api/v1/anchors/${vendor0}/keys`).set(admin).send({ format: 'pem', key: DRAFT_PUB }).expect(201);
    const res = await post(ex);
    expect([res.status, res.body.error.code]).toEqual([422, 'PAYLOAD_MISSING']);
  });
});
