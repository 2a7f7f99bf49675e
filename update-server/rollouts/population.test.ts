import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from '../testing/harness.js';
import { addRelease, simDevice } from '../device-api/test-support.js';
import type { ReleaseRecord } from '../state/index.js';
import { evaluate } from './machine.js';
import { CreateRolloutSchema, PhasesSchema, type Assignment, type RolloutTarget } from './model.js';
import { countTargeted } from './population.js';
import { RolloutService } from './service.js';
import { bucketOf, compileTarget, inScope, type DeviceFacts } from './selection.js';
import { seqKey } from '../util/seq.js';

let h: Harness;
let svc: RolloutService;
let r2: ReleaseRecord;
const who = { actor: 'token:test', tenantId: 't1' };
const N = 200;
const tagsOf = (i: number): string[] => [...(i % 2 ? ['odd'] : []), ...(i % 3 === 0 ? ['three'] : []), ...(i % 5 === 0 ? ['five'] : [])];
const facts = (i: number): DeviceFacts => ({ id: `pd-${String(i).padStart(3, '0')}`, tenantId: 't1', vendorId: 'vendor-1', classId: 'class-1', tags: tagsOf(i), groups: i < 40 ? ['g40'] : [], currentSeq: i === 7 ? 2n : 1n });
const all = Array.from({ length: N }, (_, i) => facts(i));

beforeAll(async () => {
  h = await makeHarness();
  await h.tenantToken('t1', 'operator');
  await h.tenantToken('t2', 'operator');
  svc = new RolloutService(h.server.ctx);
  const key = Buffer.from(simDevice('k').publicKey).toString('hex');
  const at = new Date().toISOString();
  const db = h.server.ctx.store.db;
  const row = (id: string, tenant: string, cls: string, seq: bigint) => ({
    id, vendor_id: 'vendor-1', class_id: cls, identity_key: key, tenant_id: tenant, claim_code_hash: null, current_seq: Number(seq), current_seq_key: seqKey(seq),
    current_digest: null, last_seen: null, last_report: null, created_at: at, updated_at: at,
  });
  await db.insertInto('devices').values(all.map((f) => row(f.id, 't1', 'class-1', f.currentSeq!))).execute();
  // Out of scope: another class, another tenant.
  await db.insertInto('devices').values([row('x-class', 't1', 'class-2', 1n), row('x-tenant', 't2', 'class-1', 1n)]).execute();
  const tagRows = all.flatMap((f) => f.tags.map((tag) => ({ device_id: f.id, tag })));
  await db.insertInto('device_tags').values(tagRows).execute();
  await h.server.ctx.store.createGroup({ id: 'grp-1', tenantId: 't1', name: 'g40', createdAt: at });
  for (const f of all) if (f.groups.length) await h.server.ctx.store.addGroupMember('grp-1', f.id);
  await addRelease(h.server.ctx, { sequence: 1, image: new Uint8Array(100) });
  r2 = await addRelease(h.server.ctx, { sequence: 2, image: new Uint8Array(100).fill(2) });
});
afterAll(async () => { await h.close(); });

async function confirm(a: Assignment, status: 'confirmed' | 'failed' = 'confirmed'): Promise<void> {
  await h.server.ctx.store.transaction(async (tx) => { await svc.applyStatus(a, status, null, tx); });
}

describe('targeted count (one aggregate query) matches what resolve() would admit', () => {
  const targets: RolloutTarget[] = [
    { kind: 'all' },
    { kind: 'tags', tags: ['odd', 'three'], match: 'all' },
    { kind: 'tags', tags: ['odd', 'five'], match: 'any' },
    { kind: 'group', groupId: 'grp-1' },
    { kind: 'filter', tags: '(odd | five) & !three', sequenceBelow: 2 },
    { kind: 'devices', deviceIds: ['pd-001', 'pd-007', 'pd-150', 'x-class', 'nobody'] },
  ];
  it.each(targets.map((t) => [t.kind, t] as const))('%s', async (_k, target) => {
    const r = { id: 'ro-x', tenantId: 't1', vendorId: 'vendor-1', classId: 'class-1', sequence: 2n, target, phases: [] };
    const match = compileTarget(target, target.kind === 'group' ? { groupName: 'g40' } : {});
    const want = all.filter((d) => inScope(r, d) && match(d) && (d.currentSeq === null || d.currentSeq < r.sequence)).length;
    expect(await countTargeted(h.server.ctx.store.db, r)).toBe(want);
  });
});

describe('completion counts against the expected population', () => {
  it('a 100 % phase over 200 devices where only half have polled does not complete', async () => {
    const ro = await svc.create(CreateRolloutSchema.parse({ name: 'all', releaseId: r2.id, target: { kind: 'all' }, phases: [{ percent: 100 }] }), who);
    const targeted = N - 1; // pd-007 already runs sequence 2
    expect(ro.population).toMatchObject({ targeted, expected: [targeted], exact: true });
    const polled = all.filter((f) => f.currentSeq === 1n);
    const first = polled.slice(0, 100);
    for (const f of first) await confirm((await svc.resolve(f))!);
    let v = await svc.view(ro.id, 't1');
    expect(v.counts.confirmed).toBe(100);
    expect(v.state).toBe('running'); // 100 of 199 expected: every polled device confirmed is not enough
    const rest = polled.slice(100);
    for (const f of rest.slice(0, -1)) await confirm((await svc.resolve(f))!);
    expect((await svc.view(ro.id, 't1')).state).toBe('running');
    await confirm((await svc.resolve(rest[rest.length - 1]!))!);
    v = await svc.view(ro.id, 't1');
    expect(v.counts.confirmed).toBe(targeted);
    expect(v.state).toBe('completed');
    await svc.act(ro.id, 'cancel', who, 't1').catch(() => undefined);
  });

  it('completes only when the expected devices finished (failures count as finished); advance forces it', async () => {
    const ro = await svc.create(CreateRolloutSchema.parse({
      name: 'tags', releaseId: r2.id, target: { kind: 'tags', tags: ['five'] },
      phases: [{ percent: 100, success: { confirmedPercent: 80, minDevices: 1 }, errorThreshold: { maxFailed: 100 } }],
    }), who);
    const five = all.filter((f) => f.tags.includes('five'));
    expect(ro.population?.expected).toEqual([five.length]);
    // 80 % confirmed, but one device never polled: not complete.
    const n80 = Math.ceil(five.length * 0.8);
    for (const f of five.slice(0, n80)) await confirm((await svc.resolve(f))!);
    for (const f of five.slice(n80, -1)) await confirm((await svc.resolve(f))!, 'failed');
    expect((await svc.view(ro.id, 't1')).state).toBe('running');
    // The operator forces completion.
    expect((await svc.act(ro.id, 'advance', who, 't1')).state).toBe('completed');
  });

  it('a lower percent phase advances against its exact bucket population, computed in the background', async () => {
    const ro = await svc.create(CreateRolloutSchema.parse({
      name: 'half', releaseId: r2.id, target: { kind: 'tags', tags: ['odd'] }, phases: [{ percent: 50 }, { percent: 100 }],
    }), who);
    const odd = all.filter((f) => f.tags.includes('odd') && f.currentSeq === 1n);
    const inHalf = odd.filter((f) => bucketOf(ro.id, f.id) < 5000);
    expect(ro.population).toMatchObject({ targeted: odd.length, expected: [Math.round(odd.length / 2), odd.length], exact: false });
    await svc.refinePopulation(ro.id);
    let v = await svc.view(ro.id, 't1');
    expect(v.population).toMatchObject({ expected: [inHalf.length, odd.length], exact: true });
    for (const f of inHalf.slice(0, -1)) await confirm((await svc.resolve(f))!);
    v = await svc.view(ro.id, 't1');
    expect([v.state, v.phase]).toEqual(['running', 0]);
    await confirm((await svc.resolve(inHalf[inHalf.length - 1]!))!);
    v = await svc.view(ro.id, 't1');
    expect([v.state, v.phase]).toEqual(['running', 1]);
    await svc.act(ro.id, 'cancel', who, 't1');
  });
});

describe('evaluate with a population (pure)', () => {
  const phases = PhasesSchema.parse([{ percent: 10, success: { confirmedPercent: 90, minDevices: 5 } }, { percent: 100, success: { confirmedPercent: 95 } }]);
  const pop = (exact: boolean) => ({ targeted: 200, expected: [20, 200], exact, countedAt: '' });
  it('advances on the cumulative confirmed count against the expected size', () => {
    expect(evaluate({ state: 'running', phase: 0, phases, population: pop(true) }, [{ confirmed: 17, assigned: 0 }])).toEqual({ kind: 'none' });
    expect(evaluate({ state: 'running', phase: 0, phases, population: pop(true) }, [{ confirmed: 18 }])).toEqual({ kind: 'advance', to: 1 });
    // estimated sizes never advance automatically
    expect(evaluate({ state: 'running', phase: 0, phases, population: pop(false) }, [{ confirmed: 20 }])).toEqual({ kind: 'none' });
  });
  it('completes when all expected devices of the last phase finished; superseded ones left the population', () => {
    const r = { state: 'running' as const, phase: 1, phases, population: pop(true) };
    expect(evaluate(r, [{ confirmed: 20 }, { confirmed: 100 }])).toEqual({ kind: 'none' });
    expect(evaluate(r, [{ confirmed: 20 }, { confirmed: 179, failed: 1 }])).toEqual({ kind: 'complete' });
    expect(evaluate(r, [{ confirmed: 20 }, { confirmed: 170, superseded: 10 }])).toEqual({ kind: 'complete' });
    expect(evaluate(r, [{ confirmed: 20 }, { confirmed: 170 }])).toEqual({ kind: 'none' });
    expect(evaluate(r, [{ confirmed: 20 }, { confirmed: 170 }], { manualAdvance: true })).toEqual({ kind: 'complete' });
  });
});
