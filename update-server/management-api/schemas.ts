/** Request validators and response schemas of /api/v1 (zod; also the OpenAPI components). */
import { z } from 'zod';
import { ROLES, REPORT_RESULTS, UPDATE_STATES } from '../state/index.js';
import { registerSchemas } from '../http/schemas.js';
import { SeqIn, SeqOut } from '../util/seq.js';

// --- shared field shapes ---
export const Ident = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, . _ : - (1-128, not starting with a symbol)');
export const VendorOrClassId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/).transform((s) => s.toLowerCase());
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');
const Iso = z.string();
const Label = z.string().min(1).max(200);
export const TagName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:=/-]{0,63}$/, 'tag: 1-64 of letters, digits, . _ : = / -');

// --- requests ---
export const CreateTenantReq = z.object({ id: Ident, name: Label }).strict();
export const CreateTokenReq = z.object({ role: z.enum(ROLES), tenantId: Ident.nullable().optional(), label: Label }).strict();
export const AddAnchorReq = z.object({
  format: z.enum(['pem', 'cose']),
  /** PEM text, or COSE_Key bytes as hex. */
  key: z.string().min(1).max(16384),
}).strict();
export const PolicyReq = z.object({ threshold: z.number().int().min(1).max(16) }).strict();
export const DeprecateReq = z.object({ deprecated: z.boolean().default(true) }).strict();
export const RegisterDeviceReq = z.object({
  id: Ident,
  vendorId: VendorOrClassId,
  classId: VendorOrClassId,
  /** Ed25519 identity public key: PEM, or COSE_Key hex. */
  identityKey: z.string().min(1).max(8192),
  /** Printed on the packaging; when omitted the server makes one and returns it once. */
  claimCode: z.string().min(8).max(128).optional(),
  tenantId: Ident.optional(),
  tags: z.array(TagName).max(64).optional(),
  currentSeq: SeqIn.optional(),
  currentDigest: Sha256Hex.optional(),
}).strict();
export const ClaimReq = z.object({ deviceId: Ident, claimCode: z.string().min(1).max(128), tenantId: Ident.optional() }).strict();
export const TagsReq = z.object({ tags: z.array(TagName).max(64) }).strict();
export const CreateGroupReq = z.object({ name: Ident, tenantId: Ident.optional() }).strict();

export const PageQuery = z.object({
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

// --- responses ---
export const Tenant = z.object({ id: z.string(), name: z.string(), createdAt: Iso }).strict();
export const Token = z.object({
  id: z.string(), role: z.enum(ROLES), tenantId: z.string().nullable(), label: z.string(), createdAt: Iso, revokedAt: Iso.nullable(),
}).strict();
export const IssuedToken = Token.extend({ token: z.string().describe('The bearer secret; shown once, never stored.') }).strict();
export const Anchor = z.object({
  vendorId: z.string(), kid: z.string(), alg: z.string(), format: z.enum(['pem', 'cose']), key: z.string(), createdAt: Iso, revokedAt: Iso.nullable(),
}).strict();
export const AnchorSet = z.object({ vendorId: z.string(), threshold: z.number().int(), keys: z.array(Anchor) }).strict();
export const Payload = z.object({ sha256: z.string(), size: z.number().int(), createdAt: Iso }).strict();
export const UploadStatus = z.object({ sha256: z.string(), size: z.number().int(), offset: z.number().int(), complete: z.boolean() }).strict();
export const Component = z.object({
  index: z.number().int(), id: z.array(z.string()), digest: z.string().nullable(), size: z.number().int().nullable(), uri: z.string().nullable(),
}).strict();
export const Release = z.object({
  id: z.string(), vendorId: z.string(), classId: z.string(), sequence: SeqOut, version: z.string().nullable(),
  components: z.array(Component), envelopeSha256: z.string(), envelopeSize: z.number().int(), signers: z.array(z.string()),
  deprecated: z.boolean(), createdAt: Iso,
}).strict();
export const Device = z.object({
  id: z.string(), vendorId: z.string(), classId: z.string(), identityKey: z.string(), tenantId: z.string().nullable(),
  claimed: z.boolean(), tags: z.array(z.string()), groups: z.array(z.string()), currentSeq: SeqOut.nullable(),
  currentDigest: z.string().nullable(), updateState: z.enum(UPDATE_STATES), lastSeen: Iso.nullable(), lastReport: z.unknown(),
  pendingUpdate: z.object({ releaseId: z.string(), sequence: SeqOut, source: z.string() }).strict().nullable(),
  createdAt: Iso, updatedAt: Iso,
}).strict();
export const RegisteredDevice = z.object({ device: Device, claimCode: z.string().optional() }).strict();
export const ReleasedDevice = z.object({ device: Device, claimCode: z.string() }).strict();
export const Group = z.object({ id: z.string(), tenantId: z.string(), name: z.string(), size: z.number().int(), createdAt: Iso }).strict();
export const Report = z.object({
  id: z.string(), deviceId: z.string(), releaseId: z.string().nullable(), result: z.enum(REPORT_RESULTS),
  sequence: SeqOut.nullable(), digest: z.string().nullable(), body: z.unknown(), createdAt: Iso,
}).strict();
export const ComplianceRow = z.object({
  vendorId: z.string(), classId: z.string(), latestSequence: SeqOut.nullable(), onLatest: z.number().int(),
  updateAvailable: z.number().int(), inProgress: z.number().int(), failed: z.number().int(), reverted: z.number().int(), total: z.number().int(),
}).strict();
export const AuditEntry = z.object({
  seq: z.number().int(), at: Iso, actor: z.string(), tenantId: z.string().nullable(), action: z.string(), target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()), prevHash: z.string(), hash: z.string(),
}).strict();

const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.string().nullable() }).strict();
const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) }).strict();

export const responseSchemas = {
  Tenant, TenantList: list(Tenant), Token, TokenList: list(Token), IssuedToken,
  Anchor, AnchorSet, AnchorSetList: list(AnchorSet),
  Payload, PayloadPage: page(Payload), UploadStatus,
  Release, ReleasePage: page(Release), ReleaseInspect: z.record(z.string(), z.unknown()),
  Device, DevicePage: page(Device), RegisteredDevice, ReleasedDevice,
  Group, GroupList: list(Group), Report, ReportPage: page(Report),
  Compliance: list(ComplianceRow), AuditEntry, AuditPage: page(AuditEntry),
  Health: z.object({ status: z.string() }).strict(),
} as const;

export const requestSchemas = {
  CreateTenantReq, CreateTokenReq, AddAnchorReq, PolicyReq, DeprecateReq, RegisterDeviceReq, ClaimReq, TagsReq, CreateGroupReq,
} as const;

registerSchemas({ ...responseSchemas, ...requestSchemas });
