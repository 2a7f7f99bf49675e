/**
 * Row types of the core schema (database column names, snake_case) as kysely sees them.
 * Other parts add their tables with `store.db.withTables<TheirTables>()`; see README-internal.md.
 */
import type { Generated } from 'kysely';

export interface TenantsTable { id: string; name: string; created_at: string }
export interface TokensTable {
  id: string; hash: string; role: string; tenant_id: string | null; label: string;
  created_at: string; revoked_at: string | null;
}
export interface VendorPoliciesTable { vendor_id: string; threshold: number; updated_at: string }
export interface TrustAnchorsTable {
  vendor_id: string; kid: string; alg: string; format: string; key_text: string;
  created_at: string; revoked_at: string | null;
}
export interface PayloadsTable { sha256: string; size: number; object_key: string; created_at: string }
export interface ReleasesTable {
  id: string; vendor_id: string; class_id: string; sequence: number | bigint; sequence_key: string | null; version: string | null;
  components: string; envelope_key: string; envelope_sha256: string; envelope_size: number;
  signers: string; deprecated: Generated<number>; tenant_id: string | null; created_by: string; created_at: string;
}
export interface ReleasePayloadsTable { release_id: string; component_index: number; sha256: string }
export interface DevicesTable {
  id: string; vendor_id: string; class_id: string; identity_key: string; tenant_id: string | null;
  claim_code_hash: string | null; current_seq: number | bigint | null; current_seq_key: string | null; current_digest: string | null;
  update_state: Generated<string>; last_seen: string | null; last_report: string | null;
  created_at: string; updated_at: string;
}
export interface DeviceTagsTable { device_id: string; tag: string }
export interface GroupsTable { id: string; tenant_id: string; name: string; created_at: string }
export interface GroupMembersTable { group_id: string; device_id: string }
export interface ReportsTable {
  id: string; device_id: string; tenant_id: string | null; release_id: string | null; result: string;
  sequence: number | bigint | null; sequence_key: string | null; digest: string | null; body: string; created_at: string;
}
export interface AuditLogTable {
  seq: number; at: string; actor: string; tenant_id: string | null; action: string; target: string | null;
  details: string; prev_hash: string; hash: string;
}

export interface CoreTables {
  tenants: TenantsTable;
  tokens: TokensTable;
  vendor_policies: VendorPoliciesTable;
  trust_anchors: TrustAnchorsTable;
  payloads: PayloadsTable;
  releases: ReleasesTable;
  release_payloads: ReleasePayloadsTable;
  devices: DevicesTable;
  device_tags: DeviceTagsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  reports: ReportsTable;
  audit_log: AuditLogTable;
}
