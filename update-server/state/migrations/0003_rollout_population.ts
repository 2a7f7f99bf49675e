import type { Kysely } from 'kysely';

/**
 * Rollout population (rollouts/population.ts): the number of devices a started rollout targets and each
 * phase's expected cumulative size, as JSON text (null for drafts and rollouts started before this step).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('rollouts').addColumn('population', 'text').execute();
}
