/**
 * A rollout's expected population. Selection stays lazy (devices are admitted when they poll), but
 * progress is judged against the devices the rollout is FOR, not only the ones that happened to poll:
 *
 *  - At start, one aggregate query counts the targeted devices: `COUNT(*)` over the devices in the
 *    rollout's scope (tenant, vendor, class) that match its target and do not already run its sequence
 *    number or a newer one (the same rule `resolve` applies). No row is written per device.
 *  - Each phase gets an expected CUMULATIVE size: a count phase `min(count, targeted)`; a 100% phase
 *    `targeted`; an intermediate percent phase the number of targeted devices whose bucket
 *    (selection.ts) is below the phase's cut. That number needs each device's hash, so at start it is
 *    estimated as `round(targeted × percent / 100)` and marked inexact; a background pass (keyset pages
 *    of device ids, no writes per device) then replaces it with the exact count. An inexact phase never
 *    advances automatically.
 *
 * Rules (machine.ts `evaluate`), with `expected'` = expected cumulative size − devices of phases 0..i
 * that left the rollout (superseded, cancelled):
 *  - phase i advances when the confirmed devices of phases 0..i reach `max(1, min(minDevices, expected'))`
 *    and `confirmedPercent` % of `expected'`;
 *  - the rollout completes when, in addition, the last phase's expected' devices have all FINISHED
 *    (confirmed, failed or reverted);
 *  - devices that never poll therefore hold a rollout open; the operator's `advance` forces the next
 *    phase or completion. Devices registered after the start are admitted too (and counted), but do not
 *    raise the expectation.
 */
import { sql, type ExpressionBuilder, type Expression, type SqlBool, type Kysely } from 'kysely';
import type { CoreTables } from '../state/index.js';
import type { PhaseSpec, RolloutTarget } from './model.js';
import { BUCKETS, bucketOf, parseTagExpr, type TagExpr } from './selection.js';
import { seqKey, toSeq } from '../util/seq.js';

export interface RolloutPopulation {
  /** Devices targeted when the rollout started. */
  targeted: number;
  /** Expected cumulative size of each phase (index = phase). */
  expected: number[];
  /** False while intermediate percent phases hold estimates (the exact pass has not finished). */
  exact: boolean;
  countedAt: string;
}

type Eb = ExpressionBuilder<CoreTables, 'devices'>;

/** The part of a rollout that decides which devices it is for. */
export interface PopulationScope {
  id: string;
  tenantId: string | null;
  vendorId: string;
  classId: string;
  sequence: bigint;
  target: RolloutTarget;
  phases: readonly PhaseSpec[];
}

function tagExists(eb: Eb, tag: string): Expression<SqlBool> {
  return eb.exists(eb.selectFrom('device_tags').select(sql<number>`1`.as('one')).whereRef('device_tags.device_id', '=', 'devices.id').where('device_tags.tag', '=', tag));
}

function tagExprSql(eb: Eb, e: TagExpr): Expression<SqlBool> {
  switch (e.op) {
    case 'tag': return tagExists(eb, e.tag);
    case 'not': return eb.not(tagExprSql(eb, e.e));
    case 'and': return eb.and([tagExprSql(eb, e.l), tagExprSql(eb, e.r)]);
    case 'or': return eb.or([tagExprSql(eb, e.l), tagExprSql(eb, e.r)]);
  }
}

/** SQL for "the rollout is for this device" (scope + target + not yet on the sequence): mirrors resolve(). */
export function targetWhere(eb: Eb, r: PopulationScope): Expression<SqlBool> {
  const parts: Expression<SqlBool>[] = [
    eb('devices.vendor_id', '=', r.vendorId),
    eb('devices.class_id', '=', r.classId),
    eb.or([eb('devices.current_seq_key', 'is', null), eb('devices.current_seq_key', '<', seqKey(r.sequence))]),
  ];
  if (r.tenantId !== null) parts.push(eb('devices.tenant_id', '=', r.tenantId));
  const t = r.target;
  switch (t.kind) {
    case 'all': break;
    case 'tags': {
      const each = t.tags.map((x) => tagExists(eb, x));
      parts.push(t.match === 'any' ? eb.or(each) : eb.and(each));
      break;
    }
    case 'group':
      parts.push(eb.exists(eb.selectFrom('group_members').select(sql<number>`1`.as('one')).whereRef('group_members.device_id', '=', 'devices.id').where('group_members.group_id', '=', t.groupId)));
      break;
    case 'filter':
      if (t.sequenceBelow !== undefined) parts.push(eb.or([eb('devices.current_seq_key', 'is', null), eb('devices.current_seq_key', '<', seqKey(toSeq(t.sequenceBelow)!))]));
      if (t.tags !== undefined) parts.push(tagExprSql(eb, parseTagExpr(t.tags)));
      break;
    case 'devices':
      parts.push(eb('devices.id', 'in', t.deviceIds));
      break;
  }
  return eb.and(parts);
}

/** One aggregate query: how many devices the rollout targets now. */
export async function countTargeted(db: Kysely<CoreTables>, r: PopulationScope): Promise<number> {
  const row = await db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where((eb) => targetWhere(eb, r)).executeTakeFirstOrThrow();
  return Number(row.n);
}

const cutOf = (percent: number): number => Math.round(percent * (BUCKETS / 100));
/** A percent phase below 100 % (its expected size needs the devices' buckets). */
export const intermediate = (p: PhaseSpec): boolean => p.percent !== undefined && cutOf(p.percent) < BUCKETS;

/** Expected cumulative sizes from the targeted count (percent phases estimated). */
export function estimatePopulation(phases: readonly PhaseSpec[], targeted: number, at: string): RolloutPopulation {
  const expected = phases.map((p) => (p.count !== undefined ? Math.min(p.count, targeted) : intermediate(p) ? Math.round((targeted * p.percent!) / 100) : targeted));
  return { targeted, expected, exact: !phases.some(intermediate), countedAt: at };
}

/**
 * The exact sizes of intermediate percent phases: walks the targeted device ids in keyset pages and
 * counts buckets. Yields to the event loop between pages.
 */
export async function exactPopulation(db: Kysely<CoreTables>, r: PopulationScope, est: RolloutPopulation, page = 5000): Promise<RolloutPopulation> {
  const cuts = r.phases.map((p) => (intermediate(p) ? cutOf(p.percent!) : -1));
  const below = cuts.map(() => 0);
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('devices').select('devices.id').where((eb) => eb.and([targetWhere(eb, r), eb('devices.id', '>', after)]))
      .orderBy('devices.id').limit(page).execute();
    for (const { id } of rows) {
      const b = bucketOf(r.id, id);
      for (let i = 0; i < cuts.length; i++) if (b < cuts[i]!) below[i]! += 1;
    }
    if (rows.length < page) break;
    after = rows[rows.length - 1]!.id;
    await new Promise((res) => setImmediate(res));
  }
  return { ...est, expected: est.expected.map((e, i) => (cuts[i]! >= 0 ? below[i]! : e)), exact: true };
}
