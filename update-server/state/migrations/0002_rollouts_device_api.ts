import type { Kysely } from 'kysely';

/**
 * Rollouts (lazy selection: one row per rollout, assignment rows only for devices that polled), device
 * authentication (challenges, short-lived bearer tokens, stored hashed), delta patches and the kill
 * switch. Owned by `rollouts/` and `device-api/`; row types in `rollouts/tables.ts`.
 * Portable SQL only (see 0001_core.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rollouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('release_id', 'text', (c) => c.notNull().references('releases.id'))
    .addColumn('vendor_id', 'text', (c) => c.notNull())
    .addColumn('class_id', 'text', (c) => c.notNull())
    .addColumn('sequence', 'bigint', (c) => c.notNull())
    // JSON: RolloutTarget and PhaseSpec[] (validated by rollouts/model.ts before they are stored).
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('phases', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('phase', 'integer', (c) => c.notNull().defaultTo(0))
    // Devices admitted so far (all phases): the counter behind count-based phases.
    .addColumn('admitted', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('pause_reason', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rollouts_state').on('rollouts').columns(['state']).execute();
  await db.schema.createIndex('rollouts_tenant').on('rollouts').columns(['tenant_id', 'id']).execute();

  await db.schema
    .createTable('rollout_assignments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rollout_id', 'text', (c) => c.notNull().references('rollouts.id'))
    .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
    .addColumn('release_id', 'text', (c) => c.notNull())
    .addColumn('phase', 'integer', (c) => c.notNull())
    // hex; the nonce a signed SUIT_Report for this assignment must carry.
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('result_code', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('rollout_assignments_rollout_device', ['rollout_id', 'device_id'])
    .execute();
  await db.schema.createIndex('rollout_assignments_device').on('rollout_assignments').columns(['device_id', 'id']).execute();
  await db.schema.createIndex('rollout_assignments_phase').on('rollout_assignments').columns(['rollout_id', 'phase', 'state']).execute();

  await db.schema
    .createTable('device_challenges')
    // sha256 hex of the challenge bytes
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('device_challenges_expiry').on('device_challenges').columns(['expires_at']).execute();

  await db.schema
    .createTable('device_tokens')
    // sha256 hex of the bearer secret; the secret itself is never stored
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('device_tokens_device').on('device_tokens').columns(['device_id']).execute();
  await db.schema.createIndex('device_tokens_expiry').on('device_tokens').columns(['expires_at']).execute();

  await db.schema
    .createTable('deltas')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('release_id', 'text', (c) => c.notNull())
    .addColumn('component_index', 'integer', (c) => c.notNull())
    .addColumn('from_sha256', 'text', (c) => c.notNull())
    .addColumn('to_sha256', 'text', (c) => c.notNull())
    // pending | ready | failed | useless (patch not smaller than the full image)
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('patch_sha256', 'text')
    .addColumn('size', 'bigint')
    .addColumn('object_key', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('deltas_from_to', ['to_sha256', 'from_sha256'])
    .execute();

  await db.schema
    .createTable('kill_switches')
    // '*' = whole server, else a tenant id
    .addColumn('scope', 'text', (c) => c.primaryKey())
    .addColumn('until', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}
