import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { makeHarness, type Harness } from '../testing/harness.js';
import { addDevice, addRelease, simDevice } from '../device-api/test-support.js';
import type { ReleaseRecord } from '../state/index.js';
import { CreateRolloutSchema } from './model.js';
import { RolloutService } from './service.js';
import type { DeviceFacts } from './selection.js';
import { seqKey } from '../util/seq.js';

let h: Harness;
let svc: RolloutService;
let r2: ReleaseRecord;
let r3: ReleaseRecord;
const who = { actor: 'token:test', tenantId: 't1' };
const N = 2000;
const facts = (i: number, seq = 1n): DeviceFacts => ({ id: `sd-${i}`, tenantId: 't1', vendorId: 'vendor-1', classId: 'class-1', tags: i % 2 ? ['odd'] : [], groups: [], currentSeq: seq });

async function rowCount(table: 'rollout_assignments' | 'rollouts'): Promise<number> {
  const r = await h.server.ctx.store.db.withTables<{ rollout_assignments: { id: string }; rollouts: { id: string } }>()
    .selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

beforeAll(async () => {
  h = await makeHarness();
  await h.tenantToken('t1', 'operator');
  svc = new RolloutService(h.server.ctx);
  const key = simDevice('k');
  // Bulk insert through kysely: selection does not need devices to exist, assignments do (FK).
  const at = new Date().toISOString();
  const rows = Array.from({ length: N }, (_, i) => ({
    id: `sd-${i}`, vendor_id: 'vendor-1', class_id: 'class-1', identity_key: Buffer.from(key.publicKey).toString('hex'), tenant_id: 't1',
    claim_code_hash: null, current_seq: 1, current_seq_key: seqKey(1n), current_digest: null, last_seen: null, last_report: null, created_at: at, updated_at: at,
  }));
  for (let i = 0; i < rows.length; i += 500) await h.server.ctx.store.db.insertInto('devices').values(rows.slice(i, i + 500)).execute();
  await addDevice(h.server.ctx, simDevice('other-tenant'), { tenantId: null });
  await addRelease(h.server.ctx, { sequence: 1, image: new Uint8Array(100) });
  r2 = await addRelease(h.server.ctx, { sequence: 2, image: new Uint8Array(100).fill(2) });
  r3 = await addRelease(h.server.ctx, { sequence: 3, image: new Uint8Array(100).fill(3) });
});
afterAll(async () => { await h.close(); });

describe('RolloutService (lazy selection)', () => {
  it('starts with one row and admits ~10% of polling devices in a 10% phase', async () => {
    const before = await rowCount('rollout_assignments');
    const ro = await svc.create(CreateRolloutSchema.parse({ name: 'ten', releaseId: r2.id, target: { kind: 'all' }, phases: [{ percent: 10 }, { percent: 100 }] }), who);
    expect(await rowCount('rollout_assignments')).toBe(before);
    let admitted = 0;
    for (let i = 0; i < N; i++) if (await svc.resolve(facts(i))) admitted++;
    expect(admitted).toBeGreaterThan(N * 0.07);
    expect(admitted).toBeLessThan(N * 0.13);
    expect(await rowCount('rollout_assignments')).toBe(before + admitted);
    // stable: polling again admits nobody new and returns the same assignment
    const a = await svc.resolve(facts(0));
    const again = await svc.resolve(facts(0));
    expect(again?.id).toBe(a?.id);
    const v = await svc.view(ro.id, 't1');
    expect(v.counts.assigned).toBe(admitted);
    await svc.act(ro.id, 'cancel', who, 't1');
    expect((await svc.view(ro.id, 't1')).counts.cancelled).toBe(admitted);
    expect(await svc.resolve(facts(0))).toBeNull();
  });

  it('admits exactly `count` devices in a count phase and respects the target', async () => {
    const ro = await svc.create(CreateRolloutSchema.parse({ name: 'five', releaseId: r2.id, target: { kind: 'tags', tags: ['odd'] }, phases: [{ count: 5 }, { percent: 100 }] }), who);
    let admitted = 0;
    for (let i = 0; i < 200; i++) {
      const a = await svc.resolve(facts(i));
      if (a?.rolloutId === ro.id) {
        admitted++;
        expect(i % 2).toBe(1);
      }
    }
    expect(admitted).toBe(5);
    await svc.act(ro.id, 'advance', who, 't1');
    // devices already on the release's sequence are not admitted
    expect(await svc.resolve(facts(301, 2n))).toBeNull();
    expect((await svc.resolve(facts(301, 1n)))?.rolloutId).toBe(ro.id);
    await svc.act(ro.id, 'cancel', who, 't1');
  });

  it('a newer rollout supersedes an active assignment; the older one serves no more', async () => {
    const old = await svc.create(CreateRolloutSchema.parse({ name: 'old', releaseId: r2.id, target: { kind: 'devices', deviceIds: ['sd-1999'] } }), who);
    const a1 = await svc.resolve(facts(1999));
    expect(a1?.rolloutId).toBe(old.id);
    const newer = await svc.create(CreateRolloutSchema.parse({ name: 'new', releaseId: r3.id, target: { kind: 'filter', sequenceBelow: 3, tags: 'odd' } }), who);
    const a2 = await svc.resolve(facts(1999));
    expect(a2?.rolloutId).toBe(newer.id);
    expect((await svc.getAssignment(a1!.id))?.state).toBe('superseded');
    expect((await svc.view(old.id, 't1')).counts.superseded).toBe(1);
    // pausing the newer one keeps the admitted device on it, but admits nobody new
    await svc.act(newer.id, 'pause', who, 't1');
    expect((await svc.resolve(facts(1999)))?.id).toBe(a2!.id);
    expect((await svc.resolve(facts(1997)))?.rolloutId ?? null).not.toBe(newer.id);
    await svc.act(newer.id, 'resume', who, 't1');
    expect((await svc.resolve(facts(1997)))?.rolloutId).toBe(newer.id);
  });

  it('keeps tenants apart and refuses invalid actions with CONFLICT / NOT_FOUND', async () => {
    const ro = await svc.create(CreateRolloutSchema.parse({ name: 'draft', releaseId: r2.id, target: { kind: 'all' }, start: false }), who);
    expect(ro.state).toBe('draft');
    expect(await svc.resolve({ ...facts(0), id: 'other-tenant', tenantId: null })).toBeNull();
    await expect(svc.get(ro.id, 'someone-else')).rejects.toSatisfy((e) => isUpdateError(e, 'NOT_FOUND'));
    await expect(svc.act(ro.id, 'resume', who, 't1')).rejects.toSatisfy((e) => isUpdateError(e, 'CONFLICT'));
    expect((await svc.act(ro.id, 'start', who, 't1')).state).toBe('running');
    await svc.act(ro.id, 'cancel', who, 't1');
    await expect(svc.act(ro.id, 'cancel', who, 't1')).rejects.toSatisfy((e) => isUpdateError(e, 'CONFLICT'));
    await expect(svc.create(CreateRolloutSchema.parse({ name: 'x', releaseId: 'f'.repeat(64), target: { kind: 'all' } }), who)).rejects.toSatisfy((e) => isUpdateError(e, 'NOT_FOUND'));
    await expect(svc.create(CreateRolloutSchema.parse({ name: 'x', releaseId: r2.id, target: { kind: 'filter', tags: 'a &' } }), who)).rejects.toSatisfy((e) => isUpdateError(e, 'VALIDATION_FAILED'));
  });
});
