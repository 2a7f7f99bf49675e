/** Records → API views (never leaks hashes or internal keys). */
import type { DeviceRecord, Group, PayloadRecord, ReleaseRecord, ReportRecord, TokenRecord, TrustAnchor } from '../state/index.js';

export const tokenView = (t: TokenRecord) => ({ id: t.id, role: t.role, tenantId: t.tenantId, label: t.label, createdAt: t.createdAt, revokedAt: t.revokedAt });
export const anchorView = (a: TrustAnchor) => ({ vendorId: a.vendorId, kid: a.kid, alg: a.alg, format: a.format, key: a.keyText, createdAt: a.createdAt, revokedAt: a.revokedAt });
export const payloadView = (p: PayloadRecord) => ({ sha256: p.sha256, size: p.size, createdAt: p.createdAt });
export const releaseView = (r: ReleaseRecord) => ({
  id: r.id, vendorId: r.vendorId, classId: r.classId, sequence: r.sequence, version: r.version, components: r.components,
  envelopeSha256: r.envelopeSha256, envelopeSize: r.envelopeSize, signers: r.signers, deprecated: r.deprecated, createdAt: r.createdAt,
});
export type PendingUpdate = { releaseId: string; sequence: bigint; source: string } | null;
export const deviceView = (d: DeviceRecord, pendingUpdate: PendingUpdate = null) => ({
  id: d.id, vendorId: d.vendorId, classId: d.classId, identityKey: d.identityKey, tenantId: d.tenantId, claimed: d.tenantId !== null,
  tags: d.tags, groups: d.groups, currentSeq: d.currentSeq, currentDigest: d.currentDigest, updateState: d.updateState,
  lastSeen: d.lastSeen, lastReport: d.lastReport ?? null, pendingUpdate, createdAt: d.createdAt, updatedAt: d.updatedAt,
});
export const groupView = (g: Group) => ({ id: g.id, tenantId: g.tenantId, name: g.name, size: g.size, createdAt: g.createdAt });
export const reportView = (r: ReportRecord) => ({
  id: r.id, deviceId: r.deviceId, releaseId: r.releaseId, result: r.result, sequence: r.sequence, digest: r.digest, body: r.body ?? null, createdAt: r.createdAt,
});
