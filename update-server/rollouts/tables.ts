/** Row types of the tables owned by rollouts/ and device-api/ (migration 0002_rollouts_device_api). */
import type { Generated } from 'kysely';

export type RolloutsTable = {
  id: string;
  tenant_id: string | null;
  name: string;
  release_id: string;
  vendor_id: string;
  class_id: string;
  /** Legacy int64 image (util/seq.ts `seqLegacy`); read `sequence_key` (migration 0004). */
  sequence: number | bigint;
  sequence_key: string | null;
  target: string;
  phases: string;
  state: string;
  phase: Generated<number>;
  admitted: Generated<number>;
  pause_reason: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  /** JSON RolloutPopulation (rollouts/population.ts); migration 0003. */
  population: string | null;
}

export type RolloutAssignmentsTable = {
  id: string;
  rollout_id: string;
  device_id: string;
  release_id: string;
  phase: number;
  nonce: string;
  state: string;
  result_code: string | null;
  created_at: string;
  updated_at: string;
}

export type DeviceChallengesTable = { id: string; device_id: string; expires_at: string; used_at: string | null }
export type DeviceTokensTable = { hash: string; device_id: string; expires_at: string; created_at: string }

export type DeltasTable = {
  id: string;
  release_id: string;
  component_index: number;
  from_sha256: string;
  to_sha256: string;
  state: string;
  patch_sha256: string | null;
  size: number | null;
  object_key: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export type KillSwitchesTable = { scope: string; until: string; reason: string; created_by: string; created_at: string }

export type RolloutTables = {
  rollouts: RolloutsTable;
  rollout_assignments: RolloutAssignmentsTable;
  device_challenges: DeviceChallengesTable;
  device_tokens: DeviceTokensTable;
  deltas: DeltasTable;
  kill_switches: KillSwitchesTable;
}
