/**
 * Rollout model: what an operator asks for (target + phases) and the states a rollout and a device's
 * assignment move through. Parsed from untrusted JSON with zod; everything downstream is typed.
 */
import { z } from 'zod';
import type { RolloutPopulation } from './population.js';
import { SeqIn } from '../util/seq.js';

export const ROLLOUT_STATES = ['draft', 'running', 'paused', 'completed', 'cancelled'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/**
 * Assignment (one device in one rollout) states. The first five are what the device reports
 * (in order of progress); `failed`/`reverted` end it badly, `confirmed` well; `superseded` and
 * `cancelled` are set by the server.
 */
export const ASSIGNMENT_STATES = [
  'assigned', 'downloading', 'installed', 'booted', 'confirmed', 'failed', 'reverted', 'superseded', 'cancelled',
] as const;
export type AssignmentState = (typeof ASSIGNMENT_STATES)[number];

/** Status words a device may report (carried inside its signed SUIT_Report; see device-api/reports.ts). */
export const DEVICE_STATUSES = ['downloading', 'installed', 'booted', 'confirmed', 'failed', 'reverted'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export const TERMINAL_ASSIGNMENT: ReadonlySet<AssignmentState> = new Set(['confirmed', 'failed', 'reverted', 'superseded', 'cancelled']);
export const FAILED_ASSIGNMENT: ReadonlySet<AssignmentState> = new Set(['failed', 'reverted']);

/** Progress rank: a report may only move an assignment forward (replays of older statuses are no-ops). */
export const ASSIGNMENT_RANK: Record<AssignmentState, number> = {
  assigned: 0, downloading: 1, installed: 2, booted: 3, confirmed: 4, failed: 4, reverted: 4, superseded: 5, cancelled: 5,
};

const id = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const tag = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'tags are [A-Za-z0-9_.:-]');

/** Which devices a rollout is for. Exactly one kind; every kind is further limited to the release's class and the rollout's tenant. */
export const RolloutTargetSchema = z.union([
  z.object({ kind: z.literal('all') }).strict(),
  /** Devices carrying all (`match: 'all'`, default) or any of the tags. */
  z.object({ kind: z.literal('tags'), tags: z.array(tag).min(1).max(32), match: z.enum(['all', 'any']).default('all') }).strict(),
  z.object({ kind: z.literal('group'), groupId: id }).strict(),
  z.object({
    kind: z.literal('filter'),
    /** Tag expression: tags combined with `&`, `|`, `!` and parentheses, e.g. `eu & !beta`. */
    tags: z.string().min(1).max(512).optional(),
    /** Only devices whose current sequence number is below this (devices that never reported one match). */
    sequenceBelow: SeqIn.optional(),
  }).strict(),
  z.object({ kind: z.literal('devices'), deviceIds: z.array(id).min(1).max(10_000) }).strict(),
]);
export type RolloutTarget = z.infer<typeof RolloutTargetSchema>;

export const PhaseSpecSchema = z.object({
  name: z.string().min(1).max(64).optional(),
  /** Cumulative share of the target reached by the end of this phase (stable hash of device id + rollout id). */
  percent: z.number().gt(0).max(100).optional(),
  /** Cumulative number of devices admitted by the end of this phase (first come, counted). */
  count: z.number().int().min(1).max(1e9).optional(),
  /** Advance when at least `minDevices` of this phase's devices confirmed and that is ≥ `confirmedPercent` of them. */
  success: z.object({
    confirmedPercent: z.number().min(0).max(100).default(100),
    minDevices: z.number().int().min(1).max(1e9).default(1),
  }).strict().default({ confirmedPercent: 100, minDevices: 1 }),
  /**
   * Pause the rollout automatically when this phase has `maxFailed` failed/reverted devices, or (once at
   * least `minSample` devices are in the phase) more than `maxFailedPercent` of them failed.
   */
  errorThreshold: z.object({
    maxFailed: z.number().int().min(1).max(1e9).optional(),
    maxFailedPercent: z.number().min(0).max(100).optional(),
    minSample: z.number().int().min(1).max(1e9).default(10),
  }).strict().default({ minSample: 10 }),
  /** `auto` advances as soon as the success condition holds; `manual` waits for POST …/advance. */
  advance: z.enum(['auto', 'manual']).default('auto'),
}).strict().refine((p) => (p.percent === undefined) !== (p.count === undefined), { message: 'each phase needs exactly one of percent or count' });
export type PhaseSpec = z.infer<typeof PhaseSpecSchema>;

export const PhasesSchema = z.array(PhaseSpecSchema).min(1).max(32).superRefine((phases, ctx) => {
  // Cumulative: each kind must not shrink from one phase to the next.
  let lastPct = 0;
  let lastCount = 0;
  phases.forEach((p, i) => {
    if (p.percent !== undefined) {
      if (p.percent < lastPct) ctx.addIssue({ code: 'custom', path: [i, 'percent'], message: 'percent is cumulative and must not decrease' });
      lastPct = p.percent;
    }
    if (p.count !== undefined) {
      if (p.count < lastCount) ctx.addIssue({ code: 'custom', path: [i, 'count'], message: 'count is cumulative and must not decrease' });
      lastCount = p.count;
    }
  });
});

export const CreateRolloutSchema = z.object({
  name: z.string().min(1).max(128),
  releaseId: z.string().regex(/^[0-9a-f]{64}$/, 'releaseId is the release sha256 (64 hex)'),
  target: RolloutTargetSchema,
  phases: PhasesSchema.default([{ percent: 100, success: { confirmedPercent: 100, minDevices: 1 }, errorThreshold: { minSample: 10 }, advance: 'auto' }]),
  /** Start immediately (default) or stay a draft until POST …/start. */
  start: z.boolean().default(true),
}).strict();
export type CreateRollout = z.infer<typeof CreateRolloutSchema>;

export interface Rollout {
  id: string;
  tenantId: string | null;
  name: string;
  releaseId: string;
  vendorId: string;
  classId: string;
  /** uint64 (util/seq.ts). */
  sequence: bigint;
  target: RolloutTarget;
  phases: PhaseSpec[];
  state: RolloutState;
  /** Index of the current phase. */
  phase: number;
  admitted: number;
  pauseReason: string | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  /** Devices targeted at start and each phase's expected cumulative size (population.ts); null for drafts. */
  population: RolloutPopulation | null;
}

export interface Assignment {
  id: string;
  rolloutId: string;
  deviceId: string;
  releaseId: string;
  phase: number;
  /** hex */
  nonce: string;
  state: AssignmentState;
  resultCode: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Per-phase counts by assignment state (what thresholds are evaluated on). */
export type StateCounts = Partial<Record<AssignmentState, number>>;
