/**
 * Rollouts over the state store: creation, manual actions, lazy admission of polling devices,
 * assignment status from verified reports, automatic advance / pause, and the counts the
 * management API shows.
 *
 * One instance per server context (`rolloutService(ctx)`), and it is the only writer of the rollout
 * tables, so its in-memory views (serving rollouts, per-phase counts, each device's latest
 * assignment) are kept write-through and the poll path needs no query once a device is known.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { UpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import type { CoreTables, StateStore } from '../state/index.js';
import { newId } from '../util/ids.js';
import { ADMITTING, evaluate, nextAssignmentState, SERVING, transition, type Decision, type RolloutAction } from './machine.js';
import {
  ASSIGNMENT_RANK, ASSIGNMENT_STATES, ROLLOUT_STATES, TERMINAL_ASSIGNMENT,
  type Assignment, type AssignmentState, type CreateRollout, type Rollout, type RolloutState, type StateCounts,
} from './model.js';
import { bucketOf, compileTarget, inScope, phaseAdmits, type DeviceFacts, type TargetMatcher } from './selection.js';
import type { RolloutAssignmentsTable, RolloutsTable, RolloutTables } from './tables.js';
import { countTargeted, estimatePopulation, exactPopulation, type RolloutPopulation } from './population.js';
import { seqFromRow, seqKey, seqLegacy } from '../util/seq.js';

type Db = Kysely<CoreTables & RolloutTables>;
const dbOf = (s: StateStore): Db => s.db.withTables<RolloutTables>() as unknown as Db;

const num = (v: unknown): number => Number(v);

const toRollout = (r: Selectable<RolloutsTable>): Rollout => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, releaseId: r.release_id, vendorId: r.vendor_id, classId: r.class_id,
  sequence: seqFromRow(r.sequence_key, r.sequence)!, target: JSON.parse(r.target) as Rollout['target'], phases: JSON.parse(r.phases) as Rollout['phases'],
  state: r.state as RolloutState, phase: num(r.phase), admitted: num(r.admitted), pauseReason: r.pause_reason,
  createdBy: r.created_by, createdAt: r.created_at, startedAt: r.started_at, updatedAt: r.updated_at,
  population: r.population ? (JSON.parse(r.population) as RolloutPopulation) : null,
});
const toAssignment = (r: Selectable<RolloutAssignmentsTable>): Assignment => ({
  id: r.id, rolloutId: r.rollout_id, deviceId: r.device_id, releaseId: r.release_id, phase: num(r.phase), nonce: r.nonce,
  state: r.state as AssignmentState, resultCode: r.result_code, createdAt: r.created_at, updatedAt: r.updated_at,
});

interface Live { r: Rollout; match: TargetMatcher }

export interface RolloutView extends Rollout {
  counts: Record<AssignmentState, number>;
  phaseCounts: Record<AssignmentState, number>[];
}

export interface Actor { actor: string; tenantId: string | null }

/** Most recent assignments kept per device; beyond this the oldest entries are dropped (re-read on demand). */
const DEVICE_CACHE_MAX = 200_000;

export class RolloutService {
  private serving: Live[] = [];
  private readonly counts = new Map<string, StateCounts[]>();
  private readonly latest = new Map<string, Assignment | null>();
  private readonly inflight = new Map<string, Promise<Assignment | null>>();
  private loaded: Promise<void> | undefined;

  constructor(private readonly ctx: ServerContext, private readonly now: () => Date = () => new Date()) {}

  private get db(): Db {
    return dbOf(this.ctx.store);
  }

  /** Loads the serving rollouts (once). Every public method awaits it. */
  ready(): Promise<void> {
    this.loaded ??= (async () => {
      const rows = await this.db.selectFrom('rollouts').selectAll().where('state', 'in', [...SERVING]).execute();
      const live: Live[] = [];
      for (const row of rows) live.push(await this.compile(toRollout(row)));
      this.serving = live;
      this.sortServing();
      await this.updateStateGauge();
      for (const l of live) if (l.r.population && !l.r.population.exact) this.refinePopulation(l.r.id);
    })();
    return this.loaded;
  }

  // ---------------------------------------------------------------- expected population (population.ts)

  /** Counts the targeted devices (one aggregate query) and estimates each phase's expected size. */
  private async population(r: Omit<Rollout, 'population'>, at: string): Promise<RolloutPopulation> {
    const n = await countTargeted(this.ctx.store.db, r);
    return estimatePopulation(r.phases, n, at);
  }

  private readonly refining = new Map<string, Promise<void>>();

  /** Replaces estimated percent-phase sizes with exact ones in the background, then re-evaluates. */
  refinePopulation(id: string): Promise<void> {
    let p = this.refining.get(id);
    if (p) return p;
    p = (async () => {
      const live = this.servingRollout(id);
      if (!live?.population || live.population.exact) return;
      const exact = await exactPopulation(this.ctx.store.db, live, live.population);
      const cur = this.servingRollout(id);
      if (!cur) return;
      await this.db.updateTable('rollouts').set({ population: JSON.stringify(exact) }).where('id', '=', id).execute();
      cur.population = exact;
      await this.reevaluate(id);
    })().catch((e: unknown) => this.ctx.log.warn({ err: e, rollout: id }, 'exact rollout population pass failed; estimates stay'))
      .finally(() => this.refining.delete(id));
    this.refining.set(id, p);
    return p;
  }

  /** Applies whatever the current counts decide (after the population became exact). */
  async reevaluate(id: string): Promise<Rollout | undefined> {
    const live = this.servingRollout(id);
    if (!live) return undefined;
    const d = evaluate(live, await this.phaseCounts(id));
    if (d.kind === 'none') return live;
    return this.apply(live, d, 'system', d.kind === 'pause' ? 'rollout.auto-pause' : d.kind === 'advance' ? 'rollout.auto-advance' : 'rollout.complete');
  }

  /** `s`: the store to read through (the transaction's, when called inside one: SQLite has one connection). */
  private async compile(r: Rollout, s: StateStore = this.ctx.store): Promise<Live> {
    let groupName: string | undefined;
    if (r.target.kind === 'group') groupName = (await s.getGroup(r.target.groupId))?.name ?? '\u0000missing-group';
    return { r, match: compileTarget(r.target, groupName === undefined ? {} : { groupName }) };
  }

  /** Newest first: a newer rollout's assignment wins (by start time, then id). */
  private sortServing(): void {
    this.serving.sort((a, b) => (b.r.startedAt ?? '').localeCompare(a.r.startedAt ?? '') || b.r.id.localeCompare(a.r.id));
  }

  private async setLive(r: Rollout, s: StateStore = this.ctx.store): Promise<void> {
    const live = SERVING.has(r.state) ? await this.compile(r, s) : null;
    this.serving = this.serving.filter((l) => l.r.id !== r.id);
    if (live) {
      this.serving.push(live);
      this.sortServing();
    }
  }

  private async updateStateGauge(): Promise<void> {
    const rows = await this.db.selectFrom('rollouts').select(['state', (eb) => eb.fn.countAll().as('n')]).groupBy('state').execute();
    const g = this.ctx.metrics.rolloutStates;
    for (const s of ROLLOUT_STATES) g.set({ state: s }, 0);
    for (const row of rows) g.set({ state: row.state }, num(row.n));
  }

  // ---------------------------------------------------------------- management

  async create(body: CreateRollout, who: Actor): Promise<Rollout> {
    await this.ready();
    const release = await this.ctx.store.getRelease(body.releaseId);
    if (!release) throw new UpdateError('NOT_FOUND', `no release ${body.releaseId}`);
    if (release.deprecated) throw new UpdateError('CONFLICT', 'the release is deprecated');
    if (body.target.kind === 'group') {
      const g = await this.ctx.store.getGroup(body.target.groupId);
      if (!g || (who.tenantId !== null && g.tenantId !== who.tenantId)) throw new UpdateError('NOT_FOUND', `no group ${body.target.groupId}`);
    }
    // Compiling validates tag expressions before anything is stored.
    compileTarget(body.target);
    const at = this.now().toISOString();
    const r: Rollout = {
      id: newId('ro'), tenantId: who.tenantId, name: body.name, releaseId: release.id, vendorId: release.vendorId,
      classId: release.classId, sequence: release.sequence, target: body.target, phases: body.phases,
      state: body.start ? 'running' : 'draft', phase: 0, admitted: 0, pauseReason: null, createdBy: who.actor,
      createdAt: at, startedAt: body.start ? at : null, updatedAt: at, population: null,
    };
    if (body.start) r.population = await this.population(r, at);
    // One row, whatever the size of the target: selection happens when devices poll.
    await this.ctx.store.transaction(async (tx) => {
      await dbOf(tx).insertInto('rollouts').values({
        id: r.id, tenant_id: r.tenantId, name: r.name, release_id: r.releaseId, vendor_id: r.vendorId, class_id: r.classId,
        sequence: seqLegacy(r.sequence), sequence_key: seqKey(r.sequence), target: JSON.stringify(r.target), phases: JSON.stringify(r.phases), state: r.state,
        phase: 0, admitted: 0, pause_reason: null, created_by: r.createdBy, created_at: at, started_at: r.startedAt, updated_at: at,
        population: r.population ? JSON.stringify(r.population) : null,
      }).execute();
      await this.ctx.audit({ actor: who.actor, tenantId: who.tenantId, action: 'rollout.create', target: r.id, details: { releaseId: r.releaseId, state: r.state, target: r.target.kind, phases: r.phases.length } }, tx);
    });
    this.counts.set(r.id, []);
    await this.setLive(r);
    await this.updateStateGauge();
    if (r.population && !r.population.exact) void this.refinePopulation(r.id);
    return r;
  }

  async get(id: string, tenantScope: string | undefined): Promise<Rollout> {
    const row = await this.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || (tenantScope !== undefined && row.tenant_id !== tenantScope)) throw new UpdateError('NOT_FOUND', `no rollout ${id}`);
    return toRollout(row);
  }

  async view(id: string, tenantScope: string | undefined): Promise<RolloutView> {
    await this.ready();
    const r = await this.get(id, tenantScope);
    const byPhase = await this.phaseCounts(r.id);
    const full = (c: StateCounts): Record<AssignmentState, number> => Object.fromEntries(ASSIGNMENT_STATES.map((s) => [s, c[s] ?? 0])) as Record<AssignmentState, number>;
    const total: StateCounts = {};
    for (const c of byPhase) for (const s of ASSIGNMENT_STATES) total[s] = (total[s] ?? 0) + (c[s] ?? 0);
    return { ...r, counts: full(total), phaseCounts: r.phases.map((_, i) => full(byPhase[i] ?? {})) };
  }

  async list(f: { tenantScope: string | undefined; state?: RolloutState; after?: string; limit?: number }): Promise<{ items: Rollout[]; next: string | null }> {
    const n = Math.max(1, Math.min(500, Math.floor(f.limit ?? 100)));
    let q = this.db.selectFrom('rollouts').selectAll().orderBy('id', 'desc').limit(n + 1);
    if (f.tenantScope !== undefined) q = q.where('tenant_id', '=', f.tenantScope);
    if (f.state !== undefined) q = q.where('state', '=', f.state);
    if (f.after !== undefined) q = q.where('id', '<', f.after);
    const rows = await q.execute();
    const items = rows.slice(0, n).map(toRollout);
    return { items, next: rows.length > n ? items[items.length - 1]!.id : null };
  }

  /** start / pause / resume / cancel / advance. */
  async act(id: string, action: RolloutAction, who: Actor, tenantScope: string | undefined): Promise<Rollout> {
    await this.ready();
    const cur = await this.get(id, tenantScope);
    const to = transition(cur.state, action);
    if (action === 'advance') {
      const d = evaluate(cur, await this.phaseCounts(id), { manualAdvance: true });
      if (d.kind === 'none') throw new UpdateError('CONFLICT', 'the rollout has no further phase');
      return this.apply(cur, d, who.actor, 'rollout.advance');
    }
    const at = this.now().toISOString();
    const next: Rollout = {
      ...cur, state: to, updatedAt: at,
      startedAt: action === 'start' ? at : cur.startedAt,
      pauseReason: action === 'pause' ? 'paused by operator' : action === 'resume' ? null : cur.pauseReason,
    };
    if (action === 'start') next.population = await this.population(cur, at);
    let cancelled = 0;
    await this.ctx.store.transaction(async (tx) => {
      const db = dbOf(tx);
      await db.updateTable('rollouts').set({
        state: next.state, started_at: next.startedAt, pause_reason: next.pauseReason, updated_at: at,
        ...(action === 'start' ? { population: JSON.stringify(next.population) } : {}),
      }).where('id', '=', id).execute();
      if (action === 'cancel') {
        const r = await db.updateTable('rollout_assignments').set({ state: 'cancelled', updated_at: at })
          .where('rollout_id', '=', id).where('state', 'not in', [...TERMINAL_ASSIGNMENT]).executeTakeFirst();
        cancelled = num(r.numUpdatedRows);
      }
      await this.ctx.audit({ actor: who.actor, tenantId: cur.tenantId, action: `rollout.${action}`, target: id, details: { from: cur.state, to: next.state, ...(action === 'cancel' ? { cancelledAssignments: cancelled } : {}) } }, tx);
    });
    if (action === 'cancel') {
      for (const [dev, a] of this.latest) if (a && a.rolloutId === id && !TERMINAL_ASSIGNMENT.has(a.state)) this.latest.set(dev, { ...a, state: 'cancelled', updatedAt: at });
      this.counts.delete(id);
    }
    await this.setLive(next);
    await this.updateStateGauge();
    if (action === 'start' && next.population && !next.population.exact) void this.refinePopulation(id);
    return next;
  }

  private async apply(cur: Rollout, d: Decision, actor: string, action: string, tx?: StateStore): Promise<Rollout> {
    if (d.kind === 'none') return cur;
    const at = this.now().toISOString();
    const next: Rollout =
      d.kind === 'pause' ? { ...cur, state: 'paused', pauseReason: d.reason, updatedAt: at }
      : d.kind === 'advance' ? { ...cur, state: 'running', phase: d.to, pauseReason: null, updatedAt: at }
      : { ...cur, state: 'completed', updatedAt: at };
    const run = async (t: StateStore): Promise<void> => {
      await dbOf(t).updateTable('rollouts').set({ state: next.state, phase: next.phase, pause_reason: next.pauseReason, updated_at: at }).where('id', '=', cur.id).execute();
      await this.ctx.audit({ actor, tenantId: cur.tenantId, action, target: cur.id, details: { decision: d.kind, from: cur.state, to: next.state, phase: next.phase, ...(d.kind === 'pause' ? { reason: d.reason } : {}) } }, t);
    };
    if (tx) {
      await run(tx);
      await this.setLive(next, tx);
      // Not awaited: the gauge query runs once the caller's transaction released the connection.
      setImmediate(() => void this.updateStateGauge().catch(() => undefined));
    } else {
      await this.ctx.store.transaction(run);
      await this.setLive(next);
      await this.updateStateGauge();
    }
    return next;
  }

  // ---------------------------------------------------------------- counts

  private async phaseCounts(rolloutId: string, s: StateStore = this.ctx.store): Promise<StateCounts[]> {
    let c = this.counts.get(rolloutId);
    if (c) return c;
    const rows = await dbOf(s).selectFrom('rollout_assignments').select(['phase', 'state', (eb) => eb.fn.countAll().as('n')])
      .where('rollout_id', '=', rolloutId).groupBy(['phase', 'state']).execute();
    c = [];
    for (const row of rows) {
      const p = num(row.phase);
      const m = (c[p] ??= {});
      m[row.state as AssignmentState] = num(row.n);
    }
    for (let i = 0; i < c.length; i++) c[i] ??= {};
    this.counts.set(rolloutId, c);
    return c;
  }

  private bump(rolloutId: string, phase: number, from: AssignmentState | null, to: AssignmentState): void {
    const c = this.counts.get(rolloutId);
    if (!c) return; // not loaded yet: the next read queries
    const m = (c[phase] ??= {});
    for (let i = 0; i < c.length; i++) c[i] ??= {};
    if (from) m[from] = Math.max(0, (m[from] ?? 0) - 1);
    m[to] = (m[to] ?? 0) + 1;
  }

  // ---------------------------------------------------------------- devices

  private remember(deviceId: string, a: Assignment | null): void {
    if (this.latest.size >= DEVICE_CACHE_MAX && !this.latest.has(deviceId)) {
      const oldest = this.latest.keys().next().value;
      if (oldest !== undefined) this.latest.delete(oldest);
    }
    this.latest.set(deviceId, a);
  }

  /** The device's most recent assignment (any state). */
  async latestAssignment(deviceId: string): Promise<Assignment | null> {
    const hit = this.latest.get(deviceId);
    if (hit !== undefined) return hit;
    const row = await this.db.selectFrom('rollout_assignments').selectAll().where('device_id', '=', deviceId).orderBy('id', 'desc').limit(1).executeTakeFirst();
    const a = row ? toAssignment(row) : null;
    this.remember(deviceId, a);
    return a;
  }

  async getAssignment(id: string): Promise<Assignment | null> {
    const row = await this.db.selectFrom('rollout_assignments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAssignment(row) : null;
  }

  servingRollout(id: string): Rollout | undefined {
    return this.serving.find((l) => l.r.id === id)?.r;
  }

  /**
   * The assignment a polling device should act on, admitting it into a rollout when its phase allows
   * (lazily creating the assignment row, superseding an older active one). Null = nothing to do.
   */
  async resolve(d: DeviceFacts): Promise<Assignment | null> {
    await this.ready();
    const pending = this.inflight.get(d.id);
    if (pending) return pending;
    const p = this.resolveOnce(d).finally(() => this.inflight.delete(d.id));
    this.inflight.set(d.id, p);
    return p;
  }

  /**
   * What `resolve` would answer, when that needs no write and no query (the device's latest assignment
   * is cached and no rollout would admit it now); undefined otherwise (call `resolve`). Poll fast path.
   */
  resolveCached(d: DeviceFacts): Assignment | null | undefined {
    if (this.loaded === undefined || this.inflight.has(d.id)) return undefined;
    const latest = this.latest.get(d.id);
    if (latest === undefined) return undefined;
    for (const l of this.serving) {
      const r = l.r;
      if (!inScope(r, d)) continue;
      if (latest && latest.rolloutId === r.id) return latest.state === 'superseded' || latest.state === 'cancelled' ? null : latest;
      if (!ADMITTING.has(r.state) || !l.match(d)) continue;
      if (d.currentSeq !== null && d.currentSeq >= r.sequence) continue;
      const phase = r.phases[r.phase];
      if (!phase || !phaseAdmits(phase, bucketOf(r.id, d.id), r.admitted)) continue;
      return undefined; // would admit: the slow path writes
    }
    return null;
  }

  private async resolveOnce(d: DeviceFacts): Promise<Assignment | null> {
    const latest = await this.latestAssignment(d.id);
    for (const l of this.serving) {
      const r = l.r;
      if (!inScope(r, d)) continue;
      // The device's own rollout reached before any newer one admitted it: keep it.
      if (latest && latest.rolloutId === r.id) return latest.state === 'superseded' || latest.state === 'cancelled' ? null : latest;
      if (!ADMITTING.has(r.state) || !l.match(d)) continue;
      if (d.currentSeq !== null && d.currentSeq >= r.sequence) continue; // already runs it (or newer)
      const phase = r.phases[r.phase];
      if (!phase || !phaseAdmits(phase, bucketOf(r.id, d.id), r.admitted)) continue;
      const a = await this.admit(l, d, latest);
      if (a) return a;
    }
    return null;
  }

  private async admit(l: Live, d: DeviceFacts, latest: Assignment | null): Promise<Assignment | null> {
    const r = l.r;
    const at = this.now().toISOString();
    const phaseIdx = r.phase;
    const phase = r.phases[phaseIdx]!;
    const a: Assignment = {
      id: newId('as'), rolloutId: r.id, deviceId: d.id, releaseId: r.releaseId, phase: phaseIdx,
      nonce: randomBytes(16).toString('hex'), state: 'assigned', resultCode: null, createdAt: at, updatedAt: at,
    };
    const supersede = latest && !TERMINAL_ASSIGNMENT.has(latest.state) ? latest : null;
    const result = await this.ctx.store.transaction(async (tx): Promise<Assignment | null> => {
      const db = dbOf(tx);
      // An earlier assignment in this very rollout (older than the device's latest): reuse it.
      const existing = await db.selectFrom('rollout_assignments').selectAll().where('rollout_id', '=', r.id).where('device_id', '=', d.id).executeTakeFirst();
      if (existing) return toAssignment(existing);
      let q = db.updateTable('rollouts').set((eb) => ({ admitted: eb('admitted', '+', 1) })).where('id', '=', r.id).where('state', 'in', [...ADMITTING]);
      if (phase.count !== undefined) q = q.where('admitted', '<', phase.count);
      if (num((await q.executeTakeFirst()).numUpdatedRows) === 0) return null; // count phase full (or state changed)
      await db.insertInto('rollout_assignments').values({
        id: a.id, rollout_id: a.rolloutId, device_id: a.deviceId, release_id: a.releaseId, phase: a.phase, nonce: a.nonce,
        state: a.state, result_code: null, created_at: at, updated_at: at,
      }).execute();
      if (supersede) {
        await db.updateTable('rollout_assignments').set({ state: 'superseded', updated_at: at }).where('id', '=', supersede.id).execute();
      }
      await this.ctx.audit({
        actor: 'system', tenantId: d.tenantId, action: 'assignment.create', target: d.id,
        details: { assignmentId: a.id, rolloutId: r.id, releaseId: r.releaseId, phase: phaseIdx, ...(supersede ? { supersedes: supersede.id } : {}) },
      }, tx);
      return a;
    });
    if (!result) {
      if (phase.count !== undefined) r.admitted = Math.max(r.admitted, phase.count);
      return null;
    }
    if (result.id === a.id) {
      r.admitted += 1;
      this.bump(r.id, phaseIdx, null, 'assigned');
      if (supersede) this.bump(supersede.rolloutId, supersede.phase, supersede.state, 'superseded');
      this.remember(d.id, a);
      return a;
    }
    return result.state === 'superseded' || result.state === 'cancelled' ? null : result;
  }

  /** Marks an active assignment superseded (a newer rollout won while the device was away). */
  async supersede(a: Assignment): Promise<void> {
    if (TERMINAL_ASSIGNMENT.has(a.state)) return;
    const at = this.now().toISOString();
    await this.ctx.store.transaction(async (tx) => {
      await dbOf(tx).updateTable('rollout_assignments').set({ state: 'superseded', updated_at: at }).where('id', '=', a.id).execute();
      await this.ctx.audit({ actor: 'system', tenantId: null, action: 'assignment.supersede', target: a.deviceId, details: { assignmentId: a.id, rolloutId: a.rolloutId } }, tx);
    });
    this.bump(a.rolloutId, a.phase, a.state, 'superseded');
    const cached = this.latest.get(a.deviceId);
    if (cached && cached.id === a.id) this.latest.set(a.deviceId, { ...a, state: 'superseded', updatedAt: at });
  }

  /**
   * Applies a verified device status to its assignment (forward only), then re-evaluates the rollout
   * (auto-advance, auto-pause). Runs inside the caller's transaction when given one, so the report row,
   * the assignment and the audit entry commit together.
   */
  async applyStatus(a: Assignment, status: AssignmentState, code: string | null, tx: StateStore): Promise<{ assignment: Assignment; changed: boolean; decision: Decision }> {
    await this.ready();
    const next = nextAssignmentState(a.state, status, ASSIGNMENT_RANK);
    if (next === null) return { assignment: a, changed: false, decision: { kind: 'none' } };
    const at = this.now().toISOString();
    const updated: Assignment = { ...a, state: next, resultCode: code ?? a.resultCode, updatedAt: at };
    // Counts first (from before this change), then bump: the query must not see the update.
    const counts = await this.phaseCounts(a.rolloutId, tx);
    await dbOf(tx).updateTable('rollout_assignments').set({ state: next, result_code: updated.resultCode, updated_at: at }).where('id', '=', a.id).execute();
    await this.ctx.audit({ actor: `device:${a.deviceId}`, tenantId: null, action: 'assignment.status', target: a.deviceId, details: { assignmentId: a.id, rolloutId: a.rolloutId, from: a.state, to: next, ...(code ? { code } : {}) } }, tx);
    this.bump(a.rolloutId, a.phase, a.state, next);
    const cached = this.latest.get(a.deviceId);
    if (cached && cached.id === a.id) this.latest.set(a.deviceId, updated);
    let decision: Decision = { kind: 'none' };
    const live = this.servingRollout(a.rolloutId);
    if (live) {
      decision = evaluate(live, counts);
      if (decision.kind !== 'none') await this.apply(live, decision, 'system', decision.kind === 'pause' ? 'rollout.auto-pause' : decision.kind === 'advance' ? 'rollout.auto-advance' : 'rollout.complete', tx);
    }
    return { assignment: updated, changed: true, decision };
  }

  /** Undo the in-memory effects of applyStatus when the surrounding transaction failed. */
  forgetCaches(): void {
    this.counts.clear();
    this.latest.clear();
    this.loaded = undefined;
  }
}

const services = new WeakMap<ServerContext, RolloutService>();

/** The one RolloutService of a server context (shared by the management and device routers). */
export function rolloutService(ctx: ServerContext): RolloutService {
  let s = services.get(ctx);
  if (!s) {
    s = new RolloutService(ctx);
    services.set(ctx, s);
  }
  return s;
}
