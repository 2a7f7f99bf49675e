/** One contract suite for every StateStore backend (SQLite now; PostgreSQL joins the list later). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { auditHash, GENESIS_HASH } from './audit.js';
import { migrations } from './migrations/index.js';
import type { ReleaseRecord, StateStore } from './port.js';
import { openSqliteStore } from './sqlite.js';

const T0 = '2026-01-01T00:00:00.000Z';
const h = (c: string): string => c.repeat(64).slice(0, 64);

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(isUpdateError(e) ? e.code : e).toBe(code);
}

function release(over: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return {
    id: h('a'), vendorId: 'v1', classId: 'c1', sequence: 1n, version: '1.0.0',
    components: [{ index: 0, id: ['00'], digest: h('1'), size: 10, uri: null }],
    envelopeKey: `envelopes/${h('a')}`, envelopeSha256: h('a'), envelopeSize: 100, signers: ['k1'],
    deprecated: false, tenantId: null, createdBy: 'token:x', createdAt: T0, ...over,
  };
}

interface Backend { name: string; open(dir: string): Promise<StateStore> }
const backends: Backend[] = [{ name: 'sqlite', open: (dir) => openSqliteStore({ file: join(dir, 'state.db') }) }];

for (const backend of backends) {
  describe(`StateStore contract: ${backend.name}`, () => {
    let dir: string;
    let store: StateStore;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'state-'));
      store = await backend.open(dir);
    });
    afterAll(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('records applied migrations', async () => {
      const rows = await sql<{ name: string }>`select name from migrations order by name`.execute(store.db);
      expect(rows.rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    });

    it('tenants', async () => {
      await store.createTenant({ id: 'acme', name: 'Acme', createdAt: T0 });
      await store.createTenant({ id: 'beta', name: 'Beta', createdAt: T0 });
      await expectCode(store.createTenant({ id: 'acme', name: 'again', createdAt: T0 }), 'CONFLICT');
      expect(await store.getTenant('acme')).toEqual({ id: 'acme', name: 'Acme', createdAt: T0 });
      expect(await store.getTenant('nope')).toBeNull();
      expect((await store.listTenants()).map((t) => t.id)).toEqual(['acme', 'beta']);
    });

    it('tokens: by hash, revoke, admin count, unique hash, foreign key to tenant', async () => {
      await store.insertToken({ id: 'tok1', hash: h('b'), role: 'admin', tenantId: null, label: 'a', createdAt: T0, revokedAt: null });
      await store.insertToken({ id: 'tok2', hash: h('c'), role: 'operator', tenantId: 'acme', label: 'o', createdAt: T0, revokedAt: null });
      await expectCode(store.insertToken({ id: 'tok3', hash: h('c'), role: 'viewer', tenantId: 'acme', label: 'dup', createdAt: T0, revokedAt: null }), 'CONFLICT');
      await expectCode(store.insertToken({ id: 'tok4', hash: h('d'), role: 'viewer', tenantId: 'ghost', label: 'fk', createdAt: T0, revokedAt: null }), 'CONFLICT');
      expect((await store.findTokenByHash(h('c')))?.id).toBe('tok2');
      expect(await store.countActiveAdminTokens()).toBe(1);
      expect((await store.listTokens('acme')).map((t) => t.id)).toEqual(['tok2']);
      expect(await store.revokeToken('tok1', T0)).toBe(true);
      expect(await store.revokeToken('tok1', T0)).toBe(false);
      expect(await store.countActiveAdminTokens()).toBe(0);
      expect((await store.getToken('tok1'))?.revokedAt).toBe(T0);
    });

    it('trust anchors and policy', async () => {
      await store.upsertAnchor({ vendorId: 'v1', kid: 'k1', alg: '-8', format: 'pem', keyText: 'PEM', createdAt: T0, revokedAt: null });
      await store.upsertAnchor({ vendorId: 'v1', kid: 'k2', alg: '-7', format: 'cose', keyText: 'a1', createdAt: T0, revokedAt: null });
      await store.upsertAnchor({ vendorId: 'v1', kid: 'k1', alg: '-8', format: 'pem', keyText: 'PEM', createdAt: T0, revokedAt: null });
      expect((await store.listAnchors('v1')).map((a) => a.kid)).toEqual(['k1', 'k2']);
      expect(await store.revokeAnchor('v1', 'k2', T0)).toBe(true);
      expect((await store.listAnchors('v1'))[1]?.revokedAt).toBe(T0);
      expect(await store.getPolicy('v1')).toBeNull();
      await store.setPolicy({ vendorId: 'v1', threshold: 2, updatedAt: T0 });
      await store.setPolicy({ vendorId: 'v1', threshold: 1, updatedAt: T0 });
      expect((await store.getPolicy('v1'))?.threshold).toBe(1);
    });

    it('payloads are idempotent', async () => {
      const p = { sha256: h('1'), size: 10, objectKey: `payloads/${h('1')}`, createdAt: T0 };
      expect(await store.putPayload(p)).toEqual(p);
      expect(await store.putPayload({ ...p, createdAt: 'later' })).toEqual(p);
      await store.putPayload({ ...p, sha256: h('2'), objectKey: 'payloads/2' });
      const page = await store.listPayloads(undefined, 1);
      expect(page.items).toHaveLength(1);
      expect((await store.listPayloads(page.next!, 10)).items.map((x) => x.sha256)).toEqual([h('2')]);
    });

    it('releases: insert, unique (vendor, class, sequence), payload links, latest, deprecate', async () => {
      await store.insertRelease(release());
      await expectCode(store.insertRelease(release({ id: h('b') })), 'CONFLICT');
      // A component naming an unknown payload violates the foreign key: nothing is stored.
      await expectCode(store.transaction((tx) => tx.insertRelease(release({ id: h('e'), sequence: 5n, components: [{ index: 0, id: ['00'], digest: h('9'), size: 1, uri: null }] }))), 'CONFLICT');
      expect(await store.getRelease(h('e'))).toBeNull();
      await store.insertRelease(release({ id: h('c'), sequence: 2n, components: [] }));
      expect((await store.latestRelease('v1', 'c1'))?.id).toBe(h('c'));
      expect(await store.setReleaseDeprecated(h('c'), true)).toBe(true);
      expect((await store.latestRelease('v1', 'c1'))?.id).toBe(h('a'));
      expect((await store.listReleases({})).items.map((r) => r.id)).toEqual([h('a')]);
      expect((await store.listReleases({ includeDeprecated: true })).items.map((r) => r.sequence)).toEqual([2n, 1n]);
      expect(await store.getRelease(h('a'))).toEqual(release());
      expect((await store.findRelease('v1', 'c1', 2n))?.deprecated).toBe(true);
    });

    it('devices: insert with tags, groups, filters, paging, patch', async () => {
      for (const [id, tenant] of [['d1', 'acme'], ['d2', 'acme'], ['d3', 'beta'], ['d4', null]] as const) {
        await store.insertDevice({ id, vendorId: 'v1', classId: 'c1', identityKey: 'k', tenantId: tenant, claimCodeHash: null, currentSeq: null, currentDigest: null, lastSeen: null, createdAt: T0, updatedAt: T0, tags: id === 'd1' ? ['eu', 'beta'] : [] });
      }
      await expectCode(store.insertDevice({ id: 'd1', vendorId: 'v1', classId: 'c1', identityKey: 'k', tenantId: null, claimCodeHash: null, currentSeq: null, currentDigest: null, lastSeen: null, createdAt: T0, updatedAt: T0 }), 'CONFLICT');
      await store.createGroup({ id: 'g1', tenantId: 'acme', name: 'canary', createdAt: T0 });
      await expectCode(store.createGroup({ id: 'g2', tenantId: 'acme', name: 'canary', createdAt: T0 }), 'CONFLICT');
      await store.addGroupMember('g1', 'd2');
      await store.addGroupMember('g1', 'd2');
      expect((await store.getGroup('g1'))?.size).toBe(1);
      expect((await store.findGroup('acme', 'canary'))?.id).toBe('g1');
      const d1 = await store.getDevice('d1');
      expect(d1).toMatchObject({ tags: ['beta', 'eu'], groups: [], updateState: 'idle', lastReport: null });
      expect((await store.getDevice('d2'))?.groups).toEqual(['canary']);
      expect((await store.listDevices({ tenantId: 'acme' })).items.map((d) => d.id)).toEqual(['d1', 'd2']);
      expect((await store.listDevices({ tenantId: null })).items.map((d) => d.id)).toEqual(['d4']);
      expect((await store.listDevices({ tag: 'eu' })).items.map((d) => d.id)).toEqual(['d1']);
      expect((await store.listDevices({ groupId: 'g1' })).items.map((d) => d.id)).toEqual(['d2']);
      const p1 = await store.listDevices({ limit: 3 });
      expect(p1.items).toHaveLength(3);
      expect((await store.listDevices({ after: p1.next! })).items.map((d) => d.id)).toEqual(['d4']);
      await store.setDeviceTags('d1', ['x', 'x', 'y'], T0);
      expect((await store.getDevice('d1'))?.tags).toEqual(['x', 'y']);
      expect(await store.updateDevice('d1', { currentSeq: 1n, currentDigest: h('1'), updateState: 'failed', lastSeen: T0, lastReport: { r: 1 } }, 'later')).toBe(true);
      expect(await store.getDevice('d1')).toMatchObject({ currentSeq: 1n, updateState: 'failed', lastReport: { r: 1 }, updatedAt: 'later' });
      expect(await store.updateDevice('nope', { lastSeen: T0 }, T0)).toBe(false);
      expect(await store.removeGroupMember('g1', 'd2')).toBe(true);
      await store.addGroupMember('g1', 'd2');
      await store.removeDeviceFromAllGroups('d2');
      expect((await store.getDevice('d2'))?.groups).toEqual([]);
      expect((await store.listGroups('acme')).map((g) => g.name)).toEqual(['canary']);
    });

    it('reports: newest first, per device and tenant, paged', async () => {
      for (let i = 1; i <= 3; i++) {
        await store.insertReport({ id: `rep_${i}`, deviceId: 'd1', tenantId: 'acme', releaseId: h('a'), result: 'success', sequence: 1n, digest: null, body: { i }, createdAt: T0 });
      }
      await store.insertReport({ id: 'rep_4', deviceId: 'd3', tenantId: 'beta', releaseId: null, result: 'failed', sequence: null, digest: null, body: null, createdAt: T0 });
      const page = await store.listReports({ deviceId: 'd1', limit: 2 });
      expect(page.items.map((r) => r.id)).toEqual(['rep_3', 'rep_2']);
      expect((await store.listReports({ deviceId: 'd1', before: page.next! })).items.map((r) => r.id)).toEqual(['rep_1']);
      expect((await store.listReports({ tenantId: 'beta' })).items.map((r) => r.body)).toEqual([null]);
    });

    it('compliance per class', async () => {
      // latest non-deprecated release of v1/c1 is sequence 1. d1 runs 1 (on latest).
      await store.updateDevice('d2', { updateState: 'in_progress' }, T0);
      await store.updateDevice('d3', { updateState: 'reverted', currentSeq: 0n }, T0);
      const all = await store.compliance({});
      expect(all).toEqual([{ vendorId: 'v1', classId: 'c1', latestSequence: 1n, onLatest: 1, updateAvailable: 1, inProgress: 1, failed: 0, reverted: 1, total: 4 }]);
      const acme = await store.compliance({ tenantId: 'acme' });
      expect(acme[0]).toMatchObject({ onLatest: 1, inProgress: 1, total: 2 });
    });

    it('audit: append chains hashes; list pages; filter by tenant', async () => {
      const a = await store.appendAudit({ actor: 'token:tok1', tenantId: null, action: 'tenant.create', target: 'acme', details: { b: 2, a: 1 } }, T0);
      const b = await store.appendAudit({ actor: 'token:tok2', tenantId: 'acme', action: 'device.claim', target: 'd1' }, T0);
      expect(a.prevHash).toBe(GENESIS_HASH);
      expect(b.prevHash).toBe(a.hash);
      expect(b.seq).toBe(a.seq + 1);
      expect(a.hash).toBe(auditHash({ seq: a.seq, at: T0, actor: a.actor, tenantId: null, action: a.action, target: 'acme', detailsJson: '{"a":1,"b":2}', prevHash: GENESIS_HASH }));
      expect((await store.listAudit({ after: a.seq })).map((e) => e.seq)).toEqual([b.seq]);
      expect((await store.listAudit({ tenantId: 'acme' })).map((e) => e.action)).toEqual(['device.claim']);
      expect((await store.lastAudit())?.hash).toBe(b.hash);
    });

    it('transactions roll back everything on failure', async () => {
      const before = (await store.lastAudit())!.seq;
      await expect(store.transaction(async (tx) => {
        await tx.createTenant({ id: 'gamma', name: 'G', createdAt: T0 });
        await tx.appendAudit({ actor: 'x', tenantId: null, action: 'tenant.create', target: 'gamma' });
        throw new Error('boom');
      })).rejects.toThrow('boom');
      expect(await store.getTenant('gamma')).toBeNull();
      expect((await store.lastAudit())!.seq).toBe(before);
    });

    it('restart: stop, start, identical state', async () => {
      const snapshot = async (s: StateStore) => ({
        tenants: await s.listTenants(), tokens: await s.listTokens(), anchors: await s.listAnchors(),
        releases: await s.listReleases({ includeDeprecated: true }), devices: await s.listDevices({}),
        groups: await s.listGroups(), reports: await s.listReports({}), audit: await s.listAudit({}),
        compliance: await s.compliance({}), payloads: await s.listPayloads(),
      });
      const before = await snapshot(store);
      await store.close();
      store = await backend.open(dir);
      expect(await snapshot(store)).toEqual(before);
    });
  });
}

describe('migrations (sqlite)', () => {
  it('an extension migration is one more list entry; re-opening applies only what is new', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-'));
    const file = join(dir, 's.db');
    const s1 = await openSqliteStore({ file });
    await s1.close();
    const extra = {
      name: '9001_test_rollouts',
      async up(db: Kysely<any>) {
        await db.schema.createTable('test_rollouts').addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('device_id', 'text', (c) => c.references('devices.id')).execute();
      },
    };
    const s2 = await openSqliteStore({ file, migrations: [...migrations, extra] });
    const names = await sql<{ name: string }>`select name from migrations order by name`.execute(s2.db);
    expect(names.rows.map((r) => r.name)).toEqual([...migrations.map((m) => m.name), '9001_test_rollouts']);
    await s2.db.withTables<{ test_rollouts: { id: string; device_id: string | null } }>().insertInto('test_rollouts').values({ id: 'r1', device_id: null }).execute();
    await s2.close();
    // A build that does not know 9001 refuses the newer database instead of guessing.
    await expectCode(openSqliteStore({ file }), 'STORAGE_UNAVAILABLE');
    await expectCode(openSqliteStore({ file, migrations: [extra, ...migrations] }), 'INTERNAL');
    await rm(dir, { recursive: true, force: true });
  });
});
