/**
 * uint64 SUIT sequence numbers end to end (util/seq.ts): releases, listing order, device registration,
 * poll `seq`, rollout offers and `sequenceBelow`, reports/state and the upgrade of a 0003 database.
 */
import { rm as rmrf } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, type CborValue } from '../manifest/index.js';
import { ADMIN, bearer, makeHarness, type Harness } from './testing/harness.js';
import { fakeEnvelope, fakeKey } from './testing/fake-verifier.js';
import { addDevice, addRelease, signChallenge, signedReport, simDevice, type SimDevice } from './device-api/test-support.js';
import { migrations, openSqliteStore } from './state/index.js';
import { defaultPendingUpdate } from './management-api/devices.js';

const CBOR = 'application/cbor';
const admin = bearer(ADMIN);
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const S53 = 2n ** 53n;
const BIG = S53 + 1n; // 9007199254740993: the same JS number as 2^53
const TOP = 2n ** 64n - 1n; // 18446744073709551615

const binary = (res: any, cb: (e: Error | null, b: Buffer) => void): void => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};
function plain(v: CborValue): any {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}
const cbor = (r: Response): any => plain(decodeCbor(new Uint8Array(r.body as Buffer), { maxBytes: 1 << 20, requireDeterministic: true }));

describe('management API: uint64 sequence numbers', () => {
  let h: Harness;
  const V = 'v-big';
  const C = 'c-big';
  const img = Buffer.from('big sequence image '.repeat(100));
  const env = (sequence: number | string) => fakeEnvelope({ vendorId: V, classId: C, sequence, version: String(sequence), components: [{ digest: sha(img), size: img.length }], signedBy: ['aa01'] });
  const post = (body: Buffer) => h.http.post('/api/v1/releases').set(admin).set('Content-Type', 'application/suit-envelope+cose').send(body);

  beforeAll(async () => {
    h = await makeHarness();
    await h.http.post(`/api/v1/anchors/${V}/keys`).set(admin).send({ format: 'pem', key: fakeKey('aa01') }).expect(201);
    await h.http.put(`/api/v1/payloads/${sha(img)}`).set(admin).set('Content-Type', 'application/octet-stream').send(img).expect(201);
  });
  afterAll(async () => { await h.close(); });

  it('accepts 2^53+1 and 2^64-1, lists them in numeric order, answers big ones as decimal strings', async () => {
    for (const s of [5, String(BIG), String(TOP), String(S53 + 10n)]) {
      const res = await post(env(s));
      h.check(res, 'post', '/api/v1/releases');
      expect(res.status, s.toString()).toBe(201);
      expect(res.body.sequence).toBe(s); // 5 stays a number; the others are decimal strings
    }
    // 2^53 and 2^53+1 are different releases (a number-based server would call them a clash)
    expect((await post(env(String(S53)))).status).toBe(201);
    expect((await post(env(String(BIG)).subarray(0))).status).toBe(200); // same bytes: idempotent
    const clash = fakeEnvelope({ vendorId: V, classId: C, sequence: String(BIG), version: 'other', components: [{ digest: sha(img), size: img.length }], signedBy: ['aa01'] });
    expect((await post(clash)).body.error.code).toBe('CONFLICT');
    const list = await h.http.get('/api/v1/releases').set(admin);
    h.check(list, 'get', '/api/v1/releases');
    expect(list.body.items.map((r: { sequence: number | string }) => r.sequence)).toEqual([String(TOP), String(S53 + 10n), String(BIG), String(S53), 5]);
    const compliance = await h.http.get('/api/v1/compliance').set(admin);
    h.check(compliance, 'get', '/api/v1/compliance');
  });

  it('registers devices with big current sequence numbers (number or string) and refuses past 2^64-1', async () => {
    const reg = (id: string, currentSeq: unknown) => h.http.post('/api/v1/devices').set(admin).send({ id, vendorId: V, classId: C, identityKey: fakeKey(id.replace(/\D/g, '') || '1'), currentSeq });
    const a = await reg('big-1', String(S53));
    h.check(a, 'post', '/api/v1/devices');
    expect([a.status, a.body.device.currentSeq]).toEqual([201, String(S53)]);
    expect((await reg('big-2', String(TOP))).body.device.currentSeq).toBe(String(TOP));
    expect((await reg('big-3', 7)).body.device.currentSeq).toBe(7);
    for (const bad of [String(2n ** 64n), '-1', '01', 2 ** 60, 1.5]) {
      const r = await reg('big-bad', bad);
      expect([r.status, r.body.error.code], String(bad)).toEqual([400, 'VALIDATION_FAILED']);
    }
    const d = await h.http.get('/api/v1/devices/big-1').set(admin);
    h.check(d, 'get', '/api/v1/devices/{id}');
    expect(d.body.currentSeq).toBe(String(S53));
    const rec = (await h.server.ctx.store.getDevice('big-1'))!;
    expect(rec.currentSeq).toBe(S53);
    expect(await defaultPendingUpdate(rec, h.server.ctx.store)).toMatchObject({ sequence: TOP });
    expect(await defaultPendingUpdate((await h.server.ctx.store.getDevice('big-2'))!, h.server.ctx.store)).toBeNull();
    const c = await h.http.get('/api/v1/compliance').set(admin);
    expect(c.body.items.find((x: { classId: string }) => x.classId === C)).toMatchObject({ latestSequence: String(TOP), onLatest: 1, total: 3 });
  });
});

describe('device API: uint64 sequence numbers', () => {
  let h: Harness;
  let operator: string;
  const image = new Uint8Array(Buffer.alloc(4000, 3));
  const low = simDevice('u64-low'); // runs 2^53
  const high = simDevice('u64-high'); // runs 2^64-1
  const toks = new Map<string, string>();

  async function token(d: SimDevice): Promise<string> {
    const c = await h.http.post('/device/v1/auth/challenge').set('Content-Type', CBOR).send(Buffer.from(encodeCbor(new Map([['deviceId', d.id]])))).buffer(true).parse(binary);
    const challenge = cbor(c).challenge as Uint8Array;
    const t = await h.http.post('/device/v1/auth/token').set('Content-Type', CBOR)
      .send(Buffer.from(encodeCbor(new Map<string, CborValue>([['deviceId', d.id], ['challenge', challenge], ['signature', signChallenge(d, challenge)]])))).buffer(true).parse(binary);
    return cbor(t).token as string;
  }
  const poll = (d: SimDevice, seq: bigint | string, json = false) => {
    const r = h.http.get(`/device/v1/poll?seq=${seq}`).set(bearer(toks.get(d.id)!));
    return json ? r.set('Accept', 'application/json') : r.buffer(true).parse(binary);
  };
  const report = (d: SimDevice, assignment: string, status: string, nonce: Uint8Array) =>
    h.http.post(`/device/v1/assignments/${assignment}/report`).set(bearer(toks.get(d.id)!)).set('Content-Type', CBOR)
      .send(Buffer.from(encodeCbor(new Map<string, CborValue>([['status', status], ['report', signedReport(d, nonce, status)]])))).buffer(true).parse(binary);

  beforeAll(async () => {
    h = await makeHarness();
    operator = await h.tenantToken('t1', 'operator');
    await addDevice(h.server.ctx, low, { tenantId: 't1', currentSeq: S53 });
    await addDevice(h.server.ctx, high, { tenantId: 't1', currentSeq: TOP });
    for (const d of [low, high]) toks.set(d.id, await token(d));
  });
  afterAll(async () => { await h.close(); });

  it('rollout filter sequenceBelow compares exactly past 2^53 (in memory and in the population COUNT)', async () => {
    const rel = await addRelease(h.server.ctx, { sequence: BIG, image });
    // below 2^53+1: the device at 2^53 only (2^53 and 2^53+1 are the same JS number)
    const c = await h.http.post('/api/v1/rollouts').set(bearer(operator)).send({
      name: 'below', releaseId: rel.id, target: { kind: 'filter', sequenceBelow: String(BIG) }, phases: [{ percent: 100 }], start: true,
    });
    h.check(c, 'post', '/api/v1/rollouts');
    expect(c.status).toBe(201);
    expect(c.body.sequence).toBe(String(BIG));
    expect(c.body.population).toMatchObject({ targeted: 1 });
    const r = cbor(await poll(low, S53));
    expect(r.status).toBe('update');
    expect(r.release.sequence).toBe(BIG); // a CBOR unsigned integer, decoded exactly
    expect(cbor(await poll(high, TOP)).status).toBe('none');
    await h.http.post(`/api/v1/rollouts/${c.body.id}/cancel`).set(bearer(operator)).expect(200);
  });

  it('offers 2^64-1 to a device at 2^53 (not to one at 2^64-1); the report moves it to 2^64-1 and that survives a restart', async () => {
    const rel = await addRelease(h.server.ctx, { sequence: TOP, image: new Uint8Array(Buffer.alloc(4000, 4)) });
    const c = await h.http.post('/api/v1/rollouts').set(bearer(operator)).send({ name: 'top', releaseId: rel.id, target: { kind: 'all' }, phases: [{ percent: 100 }], start: true });
    expect(c.status).toBe(201);
    expect(c.body.population).toMatchObject({ targeted: 1 });
    const a = cbor(await poll(low, S53));
    expect(a.status).toBe('update');
    expect(a.release).toMatchObject({ id: rel.id, sequence: TOP });
    expect(cbor(await poll(low, S53)).release.sequence).toBe(TOP); // the cached fast path says the same
    const j = await poll(low, S53, true);
    expect(j.body.release.sequence).toBe(String(TOP)); // JSON: decimal string
    h.check(j, 'get', '/device/v1/poll');
    expect(cbor(await poll(high, TOP)).status).toBe('none');
    for (const bad of [String(2n ** 64n), '123456789012345678901', '-1', '01']) {
      const r = await poll(low, bad, true);
      expect([r.status, r.body.error.code], bad).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect((await report(low, a.assignment.id, 'installed', a.assignment.nonce)).status).toBe(200);
    const done = await report(low, a.assignment.id, 'confirmed', a.assignment.nonce);
    expect(cbor(done).assignment.state).toBe('confirmed');
    expect((await h.server.ctx.store.getDevice(low.id))!.currentSeq).toBe(TOP);
    expect(cbor(await poll(low, TOP)).status).toBe('none');
    const reports = await h.http.get(`/api/v1/devices/${low.id}/reports`).set(admin);
    h.check(reports, 'get', '/api/v1/devices/{id}/reports');
    expect(reports.body.items.map((x: { result: string; sequence: unknown }) => [x.result, x.sequence])).toContainEqual(['success', String(TOP)]);
    // a poll's seq (batched write) round-trips too: the high device says it now runs 2^53+1, so 2^64-1 is for it
    expect(cbor(await poll(high, BIG)).release.sequence).toBe(TOP);
    await h.restart();
    const lowView = await h.http.get(`/api/v1/devices/${low.id}`).set(admin);
    h.check(lowView, 'get', '/api/v1/devices/{id}');
    expect(lowView.body.currentSeq).toBe(String(TOP));
    expect((await h.http.get(`/api/v1/devices/${high.id}`).set(admin)).body.currentSeq).toBe(String(BIG));
  });
});

describe('upgrade: a database at migration 0003 gets the sortable sequence columns', () => {
  let h: Harness;
  afterAll(async () => { await h.close(); });

  it('fills existing rows and keeps serving them; new big releases sort after them', async () => {
    h = await makeHarness();
    await h.server.close();
    const file = join(h.dir, 'state.db');
    for (const f of ['', '-wal', '-shm']) await rmrf(file + f, { force: true });
    const old = await openSqliteStore({ file, migrations: migrations.slice(0, 3) });
    const at = new Date().toISOString();
    const db = old.db as any;
    await db.insertInto('tenants').values({ id: 't1', name: 't1', created_at: at }).execute();
    const rel = (id: string, sequence: number) => ({
      id, vendor_id: 'v', class_id: 'c', sequence, version: String(sequence), components: '[]', envelope_key: `e/${id}`,
      envelope_sha256: id, envelope_size: 1, signers: '[]', tenant_id: null, created_by: 'old', created_at: at,
    });
    await db.insertInto('releases').values([rel('r9', 9), rel('r10', 10), rel('rmax', Number.MAX_SAFE_INTEGER)]).execute();
    await db.insertInto('devices').values({
      id: 'old-1', vendor_id: 'v', class_id: 'c', identity_key: 'k', tenant_id: 't1', claim_code_hash: null, current_seq: 10,
      current_digest: null, last_seen: null, last_report: null, created_at: at, updated_at: at,
    }).execute();
    await db.insertInto('reports').values({ id: 'rep_1', device_id: 'old-1', tenant_id: 't1', release_id: 'r10', result: 'success', sequence: 10, digest: null, body: '{}', created_at: at }).execute();
    await db.insertInto('rollouts').values({
      id: 'ro_old', tenant_id: 't1', name: 'old', release_id: 'r10', vendor_id: 'v', class_id: 'c', sequence: 10, target: '{"kind":"all"}',
      phases: '[{"percent":100}]', state: 'completed', created_by: 'old', created_at: at, started_at: at, updated_at: at,
    }).execute();
    await old.close();

    await h.restart(); // runs 0004
    const s = h.server.ctx.store;
    const keys = await (s.db as any).selectFrom('rollouts').select('sequence_key').where('id', '=', 'ro_old').executeTakeFirst();
    expect(keys.sequence_key).toBe('00000000000000000010');
    expect((await s.getDevice('old-1'))!.currentSeq).toBe(10n);
    expect((await s.listReports({ deviceId: 'old-1' })).items[0]!.sequence).toBe(10n);
    expect((await s.latestRelease('v', 'c'))!.sequence).toBe(BigInt(Number.MAX_SAFE_INTEGER)); // text order = numeric order (not '9' > '10')
    expect((await s.findRelease('v', 'c', 9n))!.id).toBe('r9');
    const ro = await h.http.get('/api/v1/rollouts/ro_old').set(admin);
    expect([ro.status, ro.body.sequence]).toEqual([200, 10]);
    await addRelease(h.server.ctx, { sequence: TOP, image: new Uint8Array(8), vendorId: 'v', classId: 'c' });
    await addRelease(h.server.ctx, { sequence: 2n ** 63n, image: new Uint8Array(9), vendorId: 'v', classId: 'c' });
    const list = await h.http.get('/api/v1/releases').set(admin);
    expect(list.body.items.map((r: { sequence: number | string }) => r.sequence)).toEqual([String(TOP), String(2n ** 63n), Number.MAX_SAFE_INTEGER, 10, 9]);
    const rows = await (s.db as any).selectFrom('migrations').select('name').execute();
    expect(rows.map((r: { name: string }) => r.name)).toContain('0004_sequence_u64');
    await h.restart(); // idempotent: nothing left to run, same answers
    expect((await h.server.ctx.store.latestRelease('v', 'c'))!.sequence).toBe(TOP);
  });
});
