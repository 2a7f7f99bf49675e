/**
 * StateStore over kysely. Only portable query-builder SQL here, so a PostgreSQL dialect can reuse the
 * class unchanged; dialect specifics (pragmas, file handling) live in sqlite.ts.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { UpdateError } from '../../manifest/errors.js';
import { auditHash, canonicalJson, GENESIS_HASH } from './audit.js';
import type {
  AuditEntry, AuditInput, ComplianceRow, DeviceFilter, DevicePatch, DeviceRecord, Group, Page, PayloadRecord,
  ReleaseRecord, ReportRecord, Role, StateStore, Tenant, TokenRecord, TrustAnchor, UpdateState, VendorPolicy,
  ReportResult,
} from './port.js';
import { seqFromRow, seqFromKeyOrNull, seqKey, seqKeyOrNull, seqLegacy, seqLegacyOrNull } from '../util/seq.js';
import type { AuditLogTable, CoreTables, DevicesTable, ReleasesTable, ReportsTable, TokensTable, TrustAnchorsTable } from './types.js';

const MAX_PAGE = 1000;
const clampLimit = (n: number | undefined, dflt = 100): number => Math.max(1, Math.min(MAX_PAGE, Math.floor(n ?? dflt)));
const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  return JSON.parse(text) as unknown;
}

/** Maps driver failures to STORAGE_UNAVAILABLE / CONFLICT, leaving UpdateErrors alone. */
export function mapDbError(e: unknown): never {
  if (e instanceof UpdateError) throw e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === '23505' || code === '23503')) {
    throw new UpdateError('CONFLICT', `constraint violated: ${msg}`, { cause: e });
  }
  if (typeof code === 'string' && (code === 'SQLITE_BUSY' || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY')) {
    throw new UpdateError('STORAGE_UNAVAILABLE', `state store: ${msg}`, { cause: e });
  }
  if (/database connection is not open|driver has already been destroyed/i.test(msg)) {
    throw new UpdateError('STORAGE_UNAVAILABLE', `state store closed: ${msg}`, { cause: e });
  }
  throw e;
}

const toToken = (r: Selectable<TokensTable>): TokenRecord => ({
  id: r.id, hash: r.hash, role: r.role as Role, tenantId: r.tenant_id, label: r.label, createdAt: r.created_at, revokedAt: r.revoked_at,
});
const toAnchor = (r: Selectable<TrustAnchorsTable>): TrustAnchor => ({
  vendorId: r.vendor_id, kid: r.kid, alg: r.alg, format: r.format as 'pem' | 'cose', keyText: r.key_text, createdAt: r.created_at, revokedAt: r.revoked_at,
});
const toRelease = (r: Selectable<ReleasesTable>): ReleaseRecord => ({
  id: r.id, vendorId: r.vendor_id, classId: r.class_id, sequence: seqFromRow(r.sequence_key, r.sequence)!, version: r.version,
  components: JSON.parse(r.components) as ReleaseRecord['components'], envelopeKey: r.envelope_key,
  envelopeSha256: r.envelope_sha256, envelopeSize: num(r.envelope_size), signers: JSON.parse(r.signers) as string[],
  deprecated: num(r.deprecated) !== 0, tenantId: r.tenant_id, createdBy: r.created_by, createdAt: r.created_at,
});
const toReport = (r: Selectable<ReportsTable>): ReportRecord => ({
  id: r.id, deviceId: r.device_id, tenantId: r.tenant_id, releaseId: r.release_id, result: r.result as ReportResult,
  sequence: seqFromRow(r.sequence_key, r.sequence), digest: r.digest, body: parseJson(r.body), createdAt: r.created_at,
});
const toAudit = (r: Selectable<AuditLogTable>): AuditEntry => ({
  seq: num(r.seq), at: r.at, actor: r.actor, tenantId: r.tenant_id, action: r.action, target: r.target,
  details: JSON.parse(r.details) as Record<string, unknown>, prevHash: r.prev_hash, hash: r.hash,
});

export class KyselyStateStore implements StateStore {
  constructor(
    readonly db: Kysely<CoreTables>,
    readonly dialect: 'sqlite' | 'postgres',
    private readonly onClose: () => Promise<void>,
    private readonly inTransaction = false,
  ) {}

  async transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    try {
      return await this.db.transaction().execute((trx: Transaction<CoreTables>) => fn(new KyselyStateStore(trx, this.dialect, this.onClose, true)));
    } catch (e) {
      return mapDbError(e);
    }
  }

  private async run<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      return mapDbError(e);
    }
  }

  async ping(): Promise<void> {
    await this.run(() => sql`select 1`.execute(this.db));
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  // --- tenants ---
  async createTenant(t: Tenant): Promise<void> {
    await this.run(() => this.db.insertInto('tenants').values({ id: t.id, name: t.name, created_at: t.createdAt }).execute());
  }
  async getTenant(id: string): Promise<Tenant | null> {
    const r = await this.run(() => this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst());
    return r ? { id: r.id, name: r.name, createdAt: r.created_at } : null;
  }
  async listTenants(): Promise<Tenant[]> {
    const rows = await this.run(() => this.db.selectFrom('tenants').selectAll().orderBy('id').execute());
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at }));
  }

  // --- tokens ---
  async insertToken(t: TokenRecord): Promise<void> {
    await this.run(() =>
      this.db.insertInto('tokens').values({
        id: t.id, hash: t.hash, role: t.role, tenant_id: t.tenantId, label: t.label, created_at: t.createdAt, revoked_at: t.revokedAt,
      }).execute(),
    );
  }
  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const r = await this.run(() => this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst());
    return r ? toToken(r) : null;
  }
  async getToken(id: string): Promise<TokenRecord | null> {
    const r = await this.run(() => this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst());
    return r ? toToken(r) : null;
  }
  async listTokens(tenantId?: string | null): Promise<TokenRecord[]> {
    let q = this.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id');
    if (tenantId === null) q = q.where('tenant_id', 'is', null);
    else if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    return (await this.run(() => q.execute())).map(toToken);
  }
  async revokeToken(id: string, at: string): Promise<boolean> {
    const r = await this.run(() => this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst());
    return num(r.numUpdatedRows) > 0;
  }
  async countActiveAdminTokens(): Promise<number> {
    const r = await this.run(() =>
      this.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).where('role', '=', 'admin').where('revoked_at', 'is', null).executeTakeFirstOrThrow(),
    );
    return num(r.n);
  }

  // --- trust anchors ---
  async upsertAnchor(a: TrustAnchor): Promise<void> {
    await this.run(() =>
      this.db.insertInto('trust_anchors').values({
        vendor_id: a.vendorId, kid: a.kid, alg: a.alg, format: a.format, key_text: a.keyText, created_at: a.createdAt, revoked_at: a.revokedAt,
      }).onConflict((oc) => oc.columns(['vendor_id', 'kid']).doUpdateSet({ revoked_at: a.revokedAt })).execute(),
    );
  }
  async listAnchors(vendorId?: string): Promise<TrustAnchor[]> {
    let q = this.db.selectFrom('trust_anchors').selectAll().orderBy('vendor_id').orderBy('created_at').orderBy('kid');
    if (vendorId !== undefined) q = q.where('vendor_id', '=', vendorId);
    return (await this.run(() => q.execute())).map(toAnchor);
  }
  async revokeAnchor(vendorId: string, kid: string, at: string): Promise<boolean> {
    const r = await this.run(() =>
      this.db.updateTable('trust_anchors').set({ revoked_at: at }).where('vendor_id', '=', vendorId).where('kid', '=', kid).where('revoked_at', 'is', null).executeTakeFirst(),
    );
    return num(r.numUpdatedRows) > 0;
  }
  async setPolicy(p: VendorPolicy): Promise<void> {
    await this.run(() =>
      this.db.insertInto('vendor_policies').values({ vendor_id: p.vendorId, threshold: p.threshold, updated_at: p.updatedAt })
        .onConflict((oc) => oc.column('vendor_id').doUpdateSet({ threshold: p.threshold, updated_at: p.updatedAt })).execute(),
    );
  }
  async getPolicy(vendorId: string): Promise<VendorPolicy | null> {
    const r = await this.run(() => this.db.selectFrom('vendor_policies').selectAll().where('vendor_id', '=', vendorId).executeTakeFirst());
    return r ? { vendorId: r.vendor_id, threshold: num(r.threshold), updatedAt: r.updated_at } : null;
  }

  // --- payloads ---
  async putPayload(p: PayloadRecord): Promise<PayloadRecord> {
    await this.run(() =>
      this.db.insertInto('payloads').values({ sha256: p.sha256, size: p.size, object_key: p.objectKey, created_at: p.createdAt })
        .onConflict((oc) => oc.column('sha256').doNothing()).execute(),
    );
    const got = await this.getPayload(p.sha256);
    if (!got) throw new UpdateError('STORAGE_UNAVAILABLE', 'payload row vanished after insert');
    return got;
  }
  async getPayload(sha256: string): Promise<PayloadRecord | null> {
    const r = await this.run(() => this.db.selectFrom('payloads').selectAll().where('sha256', '=', sha256).executeTakeFirst());
    return r ? { sha256: r.sha256, size: num(r.size), objectKey: r.object_key, createdAt: r.created_at } : null;
  }
  async listPayloads(after?: string, limit?: number): Promise<Page<PayloadRecord>> {
    const n = clampLimit(limit);
    let q = this.db.selectFrom('payloads').selectAll().orderBy('sha256').limit(n + 1);
    if (after !== undefined) q = q.where('sha256', '>', after);
    const rows = await this.run(() => q.execute());
    const items = rows.slice(0, n).map((r) => ({ sha256: r.sha256, size: num(r.size), objectKey: r.object_key, createdAt: r.created_at }));
    return { items, next: rows.length > n ? items[items.length - 1]!.sha256 : null };
  }

  // --- releases ---
  async insertRelease(r: ReleaseRecord): Promise<void> {
    await this.run(async () => {
      await this.db.insertInto('releases').values({
        id: r.id, vendor_id: r.vendorId, class_id: r.classId, sequence: seqLegacy(r.sequence), sequence_key: seqKey(r.sequence), version: r.version,
        components: JSON.stringify(r.components), envelope_key: r.envelopeKey, envelope_sha256: r.envelopeSha256,
        envelope_size: r.envelopeSize, signers: JSON.stringify(r.signers), deprecated: r.deprecated ? 1 : 0,
        tenant_id: r.tenantId, created_by: r.createdBy, created_at: r.createdAt,
      }).execute();
      const links = r.components.filter((c) => c.digest !== null).map((c) => ({ release_id: r.id, component_index: c.index, sha256: c.digest! }));
      if (links.length > 0) await this.db.insertInto('release_payloads').values(links).execute();
    });
  }
  async getRelease(id: string): Promise<ReleaseRecord | null> {
    const r = await this.run(() => this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst());
    return r ? toRelease(r) : null;
  }
  async findRelease(vendorId: string, classId: string, sequence: bigint): Promise<ReleaseRecord | null> {
    const r = await this.run(() =>
      this.db.selectFrom('releases').selectAll().where('vendor_id', '=', vendorId).where('class_id', '=', classId).where('sequence_key', '=', seqKey(sequence)).executeTakeFirst(),
    );
    return r ? toRelease(r) : null;
  }
  async listReleases(f: { vendorId?: string; classId?: string; visibleToTenant?: string; includeDeprecated?: boolean; after?: string; limit?: number }): Promise<Page<ReleaseRecord>> {
    const n = clampLimit(f.limit);
    const offset = f.after !== undefined && /^\d{1,9}$/.test(f.after) ? Number(f.after) : 0;
    let q = this.db.selectFrom('releases').selectAll('releases')
      .orderBy('vendor_id').orderBy('class_id').orderBy('sequence_key', 'desc').limit(n + 1).offset(offset);
    if (f.vendorId !== undefined) q = q.where('vendor_id', '=', f.vendorId);
    if (f.classId !== undefined) q = q.where('class_id', '=', f.classId);
    if (!f.includeDeprecated) q = q.where('deprecated', '=', 0);
    const tenant = f.visibleToTenant;
    if (tenant !== undefined) {
      // A vendor's release is visible to a tenant that owns a device of its class, or that uploaded it.
      q = q.where((eb) => eb.or([
        eb('releases.tenant_id', '=', tenant),
        eb.exists(eb.selectFrom('devices').select('devices.id')
          .where('devices.tenant_id', '=', tenant)
          .whereRef('devices.vendor_id', '=', 'releases.vendor_id')
          .whereRef('devices.class_id', '=', 'releases.class_id')),
      ]));
    }
    const rows = await this.run(() => q.execute());
    return { items: rows.slice(0, n).map(toRelease), next: rows.length > n ? String(offset + n) : null };
  }
  async setReleaseDeprecated(id: string, deprecated: boolean): Promise<boolean> {
    const r = await this.run(() => this.db.updateTable('releases').set({ deprecated: deprecated ? 1 : 0 }).where('id', '=', id).executeTakeFirst());
    return num(r.numUpdatedRows) > 0;
  }
  async latestRelease(vendorId: string, classId: string): Promise<ReleaseRecord | null> {
    const r = await this.run(() =>
      this.db.selectFrom('releases').selectAll().where('vendor_id', '=', vendorId).where('class_id', '=', classId)
        .where('deprecated', '=', 0).orderBy('sequence_key', 'desc').limit(1).executeTakeFirst(),
    );
    return r ? toRelease(r) : null;
  }

  // --- devices ---
  async insertDevice(d: Omit<DeviceRecord, 'tags' | 'groups' | 'updateState' | 'lastReport'> & { tags?: string[] }): Promise<void> {
    await this.run(async () => {
      await this.db.insertInto('devices').values({
        id: d.id, vendor_id: d.vendorId, class_id: d.classId, identity_key: d.identityKey, tenant_id: d.tenantId,
        claim_code_hash: d.claimCodeHash, current_seq: seqLegacyOrNull(d.currentSeq), current_seq_key: seqKeyOrNull(d.currentSeq), current_digest: d.currentDigest,
        last_seen: d.lastSeen, last_report: null, created_at: d.createdAt, updated_at: d.updatedAt,
      }).execute();
      const tags = [...new Set(d.tags ?? [])];
      if (tags.length > 0) await this.db.insertInto('device_tags').values(tags.map((tag) => ({ device_id: d.id, tag }))).execute();
    });
  }

  private async hydrate(rows: Selectable<DevicesTable>[]): Promise<DeviceRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [tags, groups] = await Promise.all([
      this.db.selectFrom('device_tags').select(['device_id', 'tag']).where('device_id', 'in', ids).orderBy('tag').execute(),
      this.db.selectFrom('group_members').innerJoin('groups', 'groups.id', 'group_members.group_id')
        .select(['group_members.device_id as device_id', 'groups.name as name']).where('group_members.device_id', 'in', ids).orderBy('groups.name').execute(),
    ]);
    const tagMap = new Map<string, string[]>();
    for (const t of tags) (tagMap.get(t.device_id) ?? tagMap.set(t.device_id, []).get(t.device_id)!).push(t.tag);
    const groupMap = new Map<string, string[]>();
    for (const g of groups) (groupMap.get(g.device_id) ?? groupMap.set(g.device_id, []).get(g.device_id)!).push(g.name);
    return rows.map((r) => ({
      id: r.id, vendorId: r.vendor_id, classId: r.class_id, identityKey: r.identity_key, tenantId: r.tenant_id,
      claimCodeHash: r.claim_code_hash, tags: tagMap.get(r.id) ?? [], groups: groupMap.get(r.id) ?? [],
      currentSeq: seqFromRow(r.current_seq_key, r.current_seq), currentDigest: r.current_digest, updateState: r.update_state as UpdateState,
      lastSeen: r.last_seen, lastReport: parseJson(r.last_report), createdAt: r.created_at, updatedAt: r.updated_at,
    }));
  }

  async getDevice(id: string): Promise<DeviceRecord | null> {
    return this.run(async () => {
      const r = await this.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? (await this.hydrate([r]))[0]! : null;
    });
  }
  async listDevices(f: DeviceFilter): Promise<Page<DeviceRecord>> {
    const n = clampLimit(f.limit);
    let q = this.db.selectFrom('devices').selectAll('devices').orderBy('devices.id').limit(n + 1);
    if (f.tenantId === null) q = q.where('devices.tenant_id', 'is', null);
    else if (f.tenantId !== undefined) q = q.where('devices.tenant_id', '=', f.tenantId);
    if (f.classId !== undefined) q = q.where('devices.class_id', '=', f.classId);
    if (f.vendorId !== undefined) q = q.where('devices.vendor_id', '=', f.vendorId);
    if (f.after !== undefined) q = q.where('devices.id', '>', f.after);
    const tag = f.tag;
    if (tag !== undefined) q = q.where((eb) => eb.exists(eb.selectFrom('device_tags').select('device_tags.tag').whereRef('device_tags.device_id', '=', 'devices.id').where('device_tags.tag', '=', tag)));
    const groupId = f.groupId;
    if (groupId !== undefined) q = q.where((eb) => eb.exists(eb.selectFrom('group_members').select('group_members.device_id').whereRef('group_members.device_id', '=', 'devices.id').where('group_members.group_id', '=', groupId)));
    return this.run(async () => {
      const rows = await q.execute();
      const items = await this.hydrate(rows.slice(0, n));
      return { items, next: rows.length > n ? items[items.length - 1]!.id : null };
    });
  }
  async updateDevice(id: string, patch: DevicePatch, at: string): Promise<boolean> {
    const set: Partial<Record<keyof DevicesTable, unknown>> = { updated_at: at };
    if (patch.tenantId !== undefined) set.tenant_id = patch.tenantId;
    if (patch.claimCodeHash !== undefined) set.claim_code_hash = patch.claimCodeHash;
    if (patch.currentSeq !== undefined) { set.current_seq = seqLegacyOrNull(patch.currentSeq); set.current_seq_key = seqKeyOrNull(patch.currentSeq); }
    if (patch.currentDigest !== undefined) set.current_digest = patch.currentDigest;
    if (patch.updateState !== undefined) set.update_state = patch.updateState;
    if (patch.lastSeen !== undefined) set.last_seen = patch.lastSeen;
    if (patch.lastReport !== undefined) set.last_report = patch.lastReport === null ? null : JSON.stringify(patch.lastReport);
    const r = await this.run(() => this.db.updateTable('devices').set(set as never).where('id', '=', id).executeTakeFirst());
    return num(r.numUpdatedRows) > 0;
  }
  async setDeviceTags(id: string, tags: string[], at: string): Promise<void> {
    await this.transaction(async (tx) => {
      const db = tx.db;
      await db.deleteFrom('device_tags').where('device_id', '=', id).execute();
      const uniq = [...new Set(tags)];
      if (uniq.length > 0) await db.insertInto('device_tags').values(uniq.map((tag) => ({ device_id: id, tag }))).execute();
      await db.updateTable('devices').set({ updated_at: at }).where('id', '=', id).execute();
    });
  }

  // --- groups ---
  async createGroup(g: Omit<Group, 'size'>): Promise<void> {
    await this.run(() => this.db.insertInto('groups').values({ id: g.id, tenant_id: g.tenantId, name: g.name, created_at: g.createdAt }).execute());
  }
  private groupQuery() {
    return this.db.selectFrom('groups').leftJoin('group_members', 'group_members.group_id', 'groups.id')
      .select(['groups.id as id', 'groups.tenant_id as tenant_id', 'groups.name as name', 'groups.created_at as created_at'])
      .select((eb) => eb.fn.count('group_members.device_id').as('size'))
      .groupBy(['groups.id', 'groups.tenant_id', 'groups.name', 'groups.created_at']);
  }
  private static toGroup(r: { id: string; tenant_id: string; name: string; created_at: string; size: unknown }): Group {
    return { id: r.id, tenantId: r.tenant_id, name: r.name, createdAt: r.created_at, size: num(r.size) };
  }
  async getGroup(id: string): Promise<Group | null> {
    const r = await this.run(() => this.groupQuery().where('groups.id', '=', id).executeTakeFirst());
    return r ? KyselyStateStore.toGroup(r) : null;
  }
  async findGroup(tenantId: string, name: string): Promise<Group | null> {
    const r = await this.run(() => this.groupQuery().where('groups.tenant_id', '=', tenantId).where('groups.name', '=', name).executeTakeFirst());
    return r ? KyselyStateStore.toGroup(r) : null;
  }
  async listGroups(tenantId?: string): Promise<Group[]> {
    let q = this.groupQuery().orderBy('groups.tenant_id').orderBy('groups.name');
    if (tenantId !== undefined) q = q.where('groups.tenant_id', '=', tenantId);
    return (await this.run(() => q.execute())).map(KyselyStateStore.toGroup);
  }
  async deleteGroup(id: string): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.db.deleteFrom('group_members').where('group_id', '=', id).execute();
      await tx.db.deleteFrom('groups').where('id', '=', id).execute();
    });
  }
  async addGroupMember(groupId: string, deviceId: string): Promise<void> {
    await this.run(() =>
      this.db.insertInto('group_members').values({ group_id: groupId, device_id: deviceId })
        .onConflict((oc) => oc.columns(['group_id', 'device_id']).doNothing()).execute(),
    );
  }
  async removeGroupMember(groupId: string, deviceId: string): Promise<boolean> {
    const r = await this.run(() => this.db.deleteFrom('group_members').where('group_id', '=', groupId).where('device_id', '=', deviceId).executeTakeFirst());
    return num(r.numDeletedRows) > 0;
  }
  async removeDeviceFromAllGroups(deviceId: string): Promise<void> {
    await this.run(() => this.db.deleteFrom('group_members').where('device_id', '=', deviceId).execute());
  }

  // --- reports ---
  async insertReport(r: ReportRecord): Promise<void> {
    await this.run(() =>
      this.db.insertInto('reports').values({
        id: r.id, device_id: r.deviceId, tenant_id: r.tenantId, release_id: r.releaseId, result: r.result,
        sequence: seqLegacyOrNull(r.sequence), sequence_key: seqKeyOrNull(r.sequence), digest: r.digest, body: JSON.stringify(r.body ?? null), created_at: r.createdAt,
      }).execute(),
    );
  }
  async listReports(f: { deviceId?: string; tenantId?: string; before?: string; limit?: number }): Promise<Page<ReportRecord>> {
    const n = clampLimit(f.limit);
    let q = this.db.selectFrom('reports').selectAll().orderBy('id', 'desc').limit(n + 1);
    if (f.deviceId !== undefined) q = q.where('device_id', '=', f.deviceId);
    if (f.tenantId !== undefined) q = q.where('tenant_id', '=', f.tenantId);
    if (f.before !== undefined) q = q.where('id', '<', f.before);
    const rows = await this.run(() => q.execute());
    const items = rows.slice(0, n).map(toReport);
    return { items, next: rows.length > n ? items[items.length - 1]!.id : null };
  }

  async compliance(f: { tenantId?: string }): Promise<ComplianceRow[]> {
    const latest = this.db.selectFrom('releases')
      .select(['vendor_id', 'class_id'])
      .select((eb) => eb.fn.max('sequence_key').as('maxseq'))
      .where('deprecated', '=', 0)
      .groupBy(['vendor_id', 'class_id'])
      .as('l');
    // A device with no release for its class, or at/after the latest sequence, counts as "on latest".
    const onLatest = sql<number>`case when l.maxseq is null or (d.current_seq_key is not null and d.current_seq_key >= l.maxseq) then 1 else 0 end`;
    let q = this.db.selectFrom('devices as d')
      .leftJoin(latest, (j) => j.onRef('l.vendor_id', '=', 'd.vendor_id').onRef('l.class_id', '=', 'd.class_id'))
      .select(['d.vendor_id as vendor_id', 'd.class_id as class_id', 'l.maxseq as maxseq', 'd.update_state as update_state'])
      .select(onLatest.as('on_latest'))
      .select((eb) => eb.fn.countAll().as('n'))
      .groupBy(['d.vendor_id', 'd.class_id', 'l.maxseq', 'd.update_state', onLatest]);
    if (f.tenantId !== undefined) q = q.where('d.tenant_id', '=', f.tenantId);
    const rows = await this.run(() => q.execute());
    const out = new Map<string, ComplianceRow>();
    for (const r of rows) {
      const key = `${r.vendor_id}\u0000${r.class_id}`;
      let row = out.get(key);
      if (!row) {
        row = { vendorId: r.vendor_id, classId: r.class_id, latestSequence: seqFromKeyOrNull(r.maxseq as string | null), onLatest: 0, updateAvailable: 0, inProgress: 0, failed: 0, reverted: 0, total: 0 };
        out.set(key, row);
      }
      const n = num(r.n);
      row.total += n;
      if (num(r.on_latest) === 1) row.onLatest += n;
      else if (r.update_state === 'in_progress') row.inProgress += n;
      else if (r.update_state === 'failed') row.failed += n;
      else if (r.update_state === 'reverted') row.reverted += n;
      else row.updateAvailable += n;
    }
    return [...out.values()].sort((a, b) => (a.vendorId + a.classId < b.vendorId + b.classId ? -1 : 1));
  }

  // --- audit ---
  async appendAudit(e: AuditInput, at: string = new Date().toISOString()): Promise<AuditEntry> {
    return this.transaction(async (tx) => {
      const last = await tx.db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      const seq = last ? num(last.seq) + 1 : 1;
      const prevHash = last ? last.hash : GENESIS_HASH;
      const detailsJson = canonicalJson(e.details ?? {});
      const hash = auditHash({ seq, at, actor: e.actor, tenantId: e.tenantId, action: e.action, target: e.target, detailsJson, prevHash });
      await tx.db.insertInto('audit_log').values({
        seq, at, actor: e.actor, tenant_id: e.tenantId, action: e.action, target: e.target, details: detailsJson, prev_hash: prevHash, hash,
      }).execute();
      return { seq, at, actor: e.actor, tenantId: e.tenantId, action: e.action, target: e.target, details: JSON.parse(detailsJson) as Record<string, unknown>, prevHash, hash };
    });
  }
  async listAudit(f: { after?: number; limit?: number; tenantId?: string }): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll().orderBy('seq').limit(clampLimit(f.limit));
    if (f.after !== undefined) q = q.where('seq', '>', f.after);
    if (f.tenantId !== undefined) q = q.where('tenant_id', '=', f.tenantId);
    return (await this.run(() => q.execute())).map(toAudit);
  }
  /** Raw rows for chain verification (details text exactly as stored). */
  async listAuditRaw(after: number, limit: number): Promise<Selectable<AuditLogTable>[]> {
    return this.run(() => this.db.selectFrom('audit_log').selectAll().where('seq', '>', after).orderBy('seq').limit(limit).execute());
  }
  async lastAudit(): Promise<AuditEntry | null> {
    const r = await this.run(() => this.db.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst());
    return r ? toAudit(r) : null;
  }
}
