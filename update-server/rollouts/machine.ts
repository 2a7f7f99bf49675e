/**
 * The rollout state machine, pure: the service applies what these functions decide.
 *
 *   draft ──start──▶ running ──pause / error threshold──▶ paused ──resume──▶ running
 *   running ──last phase's success condition──▶ completed
 *   draft | running | paused ──cancel──▶ cancelled
 *
 * Success and completion count against the phase's EXPECTED population (population.ts: the targeted
 * devices counted at start), not only the devices that have polled so far: a phase advances when the
 * confirmed devices of phases 0..i reach its success condition over its expected cumulative size, and
 * the rollout completes only when the last phase's expected devices have all finished. `advance` forces
 * either. Rollouts without a population (started before migration 0003) judge the admitted devices.
 *
 * `completed` keeps serving the release to targeted devices that poll late; `paused` admits no new devices but lets admitted ones finish; `cancelled`
 * cancels every open assignment (their reports then answer 410).
 */
import { UpdateError } from '../../manifest/index.js';
import type { AssignmentState, PhaseSpec, RolloutState, StateCounts } from './model.js';
import { intermediate, type RolloutPopulation } from './population.js';

export type RolloutAction = 'start' | 'pause' | 'resume' | 'cancel' | 'advance';

const ALLOWED: Record<RolloutAction, readonly RolloutState[]> = {
  start: ['draft'],
  pause: ['running'],
  resume: ['paused'],
  cancel: ['draft', 'running', 'paused'],
  advance: ['running', 'paused'],
};

/** The state after a manual action, or CONFLICT when the action is not allowed in `from`. */
export function transition(from: RolloutState, action: RolloutAction): RolloutState {
  if (!ALLOWED[action].includes(from)) {
    throw new UpdateError('CONFLICT', `cannot ${action} a rollout that is ${from}`, { details: { state: from, action } });
  }
  switch (action) {
    case 'start': return 'running';
    case 'pause': return 'paused';
    case 'resume': return 'running';
    case 'cancel': return 'cancelled';
    case 'advance': return from;
  }
}

/** States in which new devices are admitted. */
export const ADMITTING: ReadonlySet<RolloutState> = new Set(['running', 'completed']);
/** States in which already-admitted devices are still served their update. */
export const SERVING: ReadonlySet<RolloutState> = new Set(['running', 'paused', 'completed']);

export function countOf(c: StateCounts, ...states: AssignmentState[]): number {
  let n = 0;
  for (const s of states) n += c[s] ?? 0;
  return n;
}

/** Devices that count towards a phase's population (superseded/cancelled ones left it). */
export function phasePopulation(c: StateCounts): number {
  return countOf(c, 'assigned', 'downloading', 'installed', 'booted', 'confirmed', 'failed', 'reverted');
}

/** True when the phase's error threshold is exceeded (the rollout must pause). */
export function errorThresholdExceeded(p: PhaseSpec, c: StateCounts): boolean {
  const failed = countOf(c, 'failed', 'reverted');
  if (failed === 0) return false;
  const t = p.errorThreshold;
  if (t.maxFailed !== undefined && failed >= t.maxFailed) return true;
  const n = phasePopulation(c);
  return t.maxFailedPercent !== undefined && n >= t.minSample && (failed * 100) / n > t.maxFailedPercent;
}

/** True when the phase's success condition holds over its admitted devices (no expected population known). */
export function successReached(p: PhaseSpec, c: StateCounts): boolean {
  const confirmed = countOf(c, 'confirmed');
  const n = phasePopulation(c);
  return confirmed >= p.success.minDevices && n > 0 && confirmed * 100 >= p.success.confirmedPercent * n;
}

/** Counts of phases 0..i added up (success is judged cumulatively, like the phases' sizes). */
export function cumulative(countsByPhase: readonly StateCounts[], i: number): StateCounts {
  const out: StateCounts = {};
  for (let k = 0; k <= i && k < countsByPhase.length; k++) {
    const c = countsByPhase[k] ?? {};
    for (const s of Object.keys(c) as AssignmentState[]) out[s] = (out[s] ?? 0) + (c[s] ?? 0);
  }
  return out;
}

/**
 * Phase `i`'s success condition against its expected cumulative population `expected` (population.ts):
 * with `exp = expected − devices that left (superseded, cancelled)`, the confirmed devices of phases
 * 0..i must reach `max(1, min(minDevices, exp))` and `confirmedPercent` % of `exp`. When `last`, every
 * one of the `exp` devices must also have finished (confirmed, failed or reverted).
 */
export function expectedSuccessReached(p: PhaseSpec, cum: StateCounts, expected: number, last: boolean): boolean {
  const exp = Math.max(0, expected - countOf(cum, 'superseded', 'cancelled'));
  const confirmed = countOf(cum, 'confirmed');
  if (confirmed < Math.max(1, Math.min(p.success.minDevices, exp))) return false;
  if (confirmed * 100 < p.success.confirmedPercent * exp) return false;
  return !last || countOf(cum, 'confirmed', 'failed', 'reverted') >= exp;
}

export type Decision =
  | { kind: 'none' }
  | { kind: 'pause'; reason: string }
  | { kind: 'advance'; to: number }
  | { kind: 'complete' };

/**
 * What to do after the counts of a rollout changed. `countsByPhase[i]` are the assignment counts of
 * phase i. Error thresholds are checked for every phase up to the current one (late failures in an
 * earlier phase still stop the rollout); success only for the current phase.
 */
export function evaluate(
  r: { state: RolloutState; phase: number; phases: readonly PhaseSpec[]; population?: RolloutPopulation | null },
  countsByPhase: readonly StateCounts[],
  opts: { manualAdvance?: boolean } = {},
): Decision {
  if (r.state !== 'running' && !(opts.manualAdvance && r.state === 'paused')) return { kind: 'none' };
  if (r.state === 'running') {
    for (let i = 0; i <= r.phase && i < r.phases.length; i++) {
      const p = r.phases[i]!;
      if (errorThresholdExceeded(p, countsByPhase[i] ?? {})) {
        return { kind: 'pause', reason: `error threshold of phase ${i + 1}${p.name ? ` (${p.name})` : ''} exceeded` };
      }
    }
  }
  const cur = r.phases[r.phase];
  if (!cur) return { kind: 'none' };
  const last = r.phase + 1 >= r.phases.length;
  if (!opts.manualAdvance) {
    if (cur.advance === 'manual') return { kind: 'none' };
    const pop = r.population;
    const expected = pop?.expected[r.phase];
    if (pop && expected !== undefined) {
      // An estimated (inexact) size is only a guess: wait for the exact pass.
      const estimated = !pop.exact && intermediate(cur);
      if (estimated || !expectedSuccessReached(cur, cumulative(countsByPhase, r.phase), expected, last)) return { kind: 'none' };
    } else if (!successReached(cur, countsByPhase[r.phase] ?? {})) return { kind: 'none' };
  }
  return last ? { kind: 'complete' } : { kind: 'advance', to: r.phase + 1 };
}

/** Maps a reported status onto the assignment, or null when it does not move it forward. */
export function nextAssignmentState(cur: AssignmentState, reported: AssignmentState, rank: Record<AssignmentState, number>): AssignmentState | null {
  if (cur === 'superseded' || cur === 'cancelled') return null;
  if (cur === 'confirmed' || cur === 'failed') return cur === reported ? null : reported === 'reverted' && cur === 'confirmed' ? 'reverted' : null;
  if (cur === 'reverted') return null;
  return rank[reported] > rank[cur] ? reported : null;
}
