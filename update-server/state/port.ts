/**
 * The state store port: everything the server remembers, behind one interface. Backends (SQLite now,
 * PostgreSQL later) pass `contract.test.ts`. Records are camelCase domain objects; row mapping stays
 * inside the backend.
 */
import type { Kysely } from 'kysely';
import type { CoreTables } from './types.js';

export const ROLES = ['admin', 'release-manager', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Device update state as last reported (the compliance summary derives from it). */
export const UPDATE_STATES = ['idle', 'in_progress', 'failed', 'reverted'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

export const REPORT_RESULTS = ['success', 'failed', 'reverted', 'in_progress', 'installed_base'] as const;
export type ReportResult = (typeof REPORT_RESULTS)[number];

export interface Tenant { id: string; name: string; createdAt: string }

export interface TokenRecord {
  id: string;
  /** sha256 hex of the secret bearer string. */
  hash: string;
  role: Role;
  /** null = spans tenants (only admin tokens may have null). */
  tenantId: string | null;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface TrustAnchor {
  vendorId: string;
  /** Hex RFC 9679 COSE_Key thumbprint, as computed by manifest/. */
  kid: string;
  alg: string;
  format: 'pem' | 'cose';
  /** The key as uploaded: PEM text, or COSE_Key bytes in hex. Public keys only. */
  keyText: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface VendorPolicy { vendorId: string; threshold: number; updatedAt: string }

export interface PayloadRecord { sha256: string; size: number; objectKey: string; createdAt: string }

export interface ReleaseComponent {
  index: number;
  /** Component identifier segments, hex. */
  id: string[];
  /** sha256 hex of the image, if the manifest names one. */
  digest: string | null;
  size: number | null;
  uri: string | null;
}

export interface ReleaseRecord {
  /** sha256 hex of the envelope bytes: content-addressed, so re-posting the same bytes is idempotent. */
  id: string;
  vendorId: string;
  classId: string;
  /** uint64 (util/seq.ts). */
  sequence: bigint;
  version: string | null;
  components: ReleaseComponent[];
  envelopeKey: string;
  envelopeSha256: string;
  envelopeSize: number;
  signers: string[];
  deprecated: boolean;
  /** Tenant of the token that created it (null for admin). */
  tenantId: string | null;
  createdBy: string;
  createdAt: string;
}

export interface DeviceRecord {
  id: string;
  vendorId: string;
  classId: string;
  /** Identity public key as registered (PEM or hex COSE_Key / raw). */
  identityKey: string;
  tenantId: string | null;
  claimCodeHash: string | null;
  tags: string[];
  groups: string[];
  currentSeq: bigint | null;
  currentDigest: string | null;
  updateState: UpdateState;
  lastSeen: string | null;
  lastReport: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface DevicePatch {
  tenantId?: string | null;
  claimCodeHash?: string | null;
  currentSeq?: bigint | null;
  currentDigest?: string | null;
  updateState?: UpdateState;
  lastSeen?: string | null;
  lastReport?: unknown;
}

export interface Group { id: string; tenantId: string; name: string; createdAt: string; size: number }

export interface ReportRecord {
  id: string;
  deviceId: string;
  tenantId: string | null;
  releaseId: string | null;
  result: ReportResult;
  sequence: bigint | null;
  digest: string | null;
  body: unknown;
  createdAt: string;
}

export interface AuditInput {
  /** Who: `token:<id>`, `device:<id>`, `system`. */
  actor: string;
  tenantId: string | null;
  /** What: dotted verb, e.g. `release.create`, `assignment.create`, `report.result`. */
  action: string;
  target: string | null;
  details?: Record<string, unknown>;
}

export interface AuditEntry extends Required<AuditInput> {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

export interface ComplianceRow {
  vendorId: string;
  classId: string;
  latestSequence: bigint | null;
  onLatest: number;
  updateAvailable: number;
  inProgress: number;
  failed: number;
  reverted: number;
  total: number;
}

export interface Page<T> { items: T[]; next: string | null }

export interface DeviceFilter {
  /** undefined = all tenants (admin); null = unclaimed devices only. */
  tenantId?: string | null;
  classId?: string;
  vendorId?: string;
  tag?: string;
  groupId?: string;
  after?: string;
  limit?: number;
}

export interface StateStore {
  /**
   * The kysely handle for parts that own their own tables (rollouts, assignments, challenges,
   * deltas): `store.db.withTables<MyTables>()`. Inside `transaction()` it is the transaction.
   */
  readonly db: Kysely<CoreTables>;
  readonly dialect: 'sqlite' | 'postgres';

  /** Runs fn atomically; nested calls join the outer transaction. */
  transaction<T>(fn: (tx: StateStore) => Promise<T>): Promise<T>;
  /** Cheap liveness check for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // tenants
  createTenant(t: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;

  // tokens
  insertToken(t: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
  getToken(id: string): Promise<TokenRecord | null>;
  listTokens(tenantId?: string | null): Promise<TokenRecord[]>;
  revokeToken(id: string, at: string): Promise<boolean>;
  countActiveAdminTokens(): Promise<number>;

  // trust anchors
  upsertAnchor(a: TrustAnchor): Promise<void>;
  listAnchors(vendorId?: string): Promise<TrustAnchor[]>;
  revokeAnchor(vendorId: string, kid: string, at: string): Promise<boolean>;
  setPolicy(p: VendorPolicy): Promise<void>;
  getPolicy(vendorId: string): Promise<VendorPolicy | null>;

  // payloads
  /** Insert if absent (idempotent); returns the stored record. */
  putPayload(p: PayloadRecord): Promise<PayloadRecord>;
  getPayload(sha256: string): Promise<PayloadRecord | null>;
  listPayloads(after?: string, limit?: number): Promise<Page<PayloadRecord>>;

  // releases
  insertRelease(r: ReleaseRecord): Promise<void>;
  getRelease(id: string): Promise<ReleaseRecord | null>;
  findRelease(vendorId: string, classId: string, sequence: bigint): Promise<ReleaseRecord | null>;
  listReleases(f: { vendorId?: string; classId?: string; visibleToTenant?: string; includeDeprecated?: boolean; after?: string; limit?: number }): Promise<Page<ReleaseRecord>>;
  setReleaseDeprecated(id: string, deprecated: boolean): Promise<boolean>;
  /** Highest-sequence non-deprecated release of a class. */
  latestRelease(vendorId: string, classId: string): Promise<ReleaseRecord | null>;

  // devices
  insertDevice(d: Omit<DeviceRecord, 'tags' | 'groups' | 'updateState' | 'lastReport'> & { tags?: string[] }): Promise<void>;
  getDevice(id: string): Promise<DeviceRecord | null>;
  listDevices(f: DeviceFilter): Promise<Page<DeviceRecord>>;
  updateDevice(id: string, patch: DevicePatch, at: string): Promise<boolean>;
  setDeviceTags(id: string, tags: string[], at: string): Promise<void>;

  // groups (per tenant)
  createGroup(g: Omit<Group, 'size'>): Promise<void>;
  getGroup(id: string): Promise<Group | null>;
  findGroup(tenantId: string, name: string): Promise<Group | null>;
  listGroups(tenantId?: string): Promise<Group[]>;
  deleteGroup(id: string): Promise<void>;
  addGroupMember(groupId: string, deviceId: string): Promise<void>;
  removeGroupMember(groupId: string, deviceId: string): Promise<boolean>;
  /** Drop a device from every group (ownership transfer). */
  removeDeviceFromAllGroups(deviceId: string): Promise<void>;

  // reports
  insertReport(r: ReportRecord): Promise<void>;
  listReports(f: { deviceId?: string; tenantId?: string; before?: string; limit?: number }): Promise<Page<ReportRecord>>;
  compliance(f: { tenantId?: string }): Promise<ComplianceRow[]>;

  // audit (hash chain; see audit.ts)
  /** Appends one entry, chaining it to the last one. Runs in (or opens) a transaction. */
  appendAudit(e: AuditInput, at?: string): Promise<AuditEntry>;
  listAudit(f: { after?: number; limit?: number; tenantId?: string }): Promise<AuditEntry[]>;
  lastAudit(): Promise<AuditEntry | null>;
}
