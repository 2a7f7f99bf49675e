/** OpenAPI paths and response schemas of `/api/v1/rollouts` (the API tests validate with the same zod objects). */
import { z } from 'zod';
import type { OpenApiFragment } from '../context.js';
import { ref, registerSchemas } from '../http/schemas.js';
import { ASSIGNMENT_STATES, CreateRolloutSchema, PhasesSchema, ROLLOUT_STATES, RolloutTargetSchema } from './model.js';
import { KillSwitchBody } from './router.js';
import { SeqOut } from '../util/seq.js';

const Counts = z.object(Object.fromEntries(ASSIGNMENT_STATES.map((s) => [s, z.number().int()])) as Record<(typeof ASSIGNMENT_STATES)[number], z.ZodNumber>).strict();

export const RolloutSchema = z.object({
  id: z.string(), tenantId: z.string().nullable(), name: z.string(), releaseId: z.string(), vendorId: z.string(), classId: z.string(),
  sequence: SeqOut, target: RolloutTargetSchema, phases: PhasesSchema, state: z.enum(ROLLOUT_STATES), phase: z.number().int(),
  admitted: z.number().int(), pauseReason: z.string().nullable(), createdBy: z.string(), createdAt: z.string(), startedAt: z.string().nullable(),
  updatedAt: z.string(),
  population: z.object({
    targeted: z.number().int().describe('devices the rollout targeted when it started (one COUNT over scope + target, excluding devices already on the sequence)'),
    expected: z.array(z.number().int()).describe("each phase's expected cumulative size: min(count, targeted); targeted for 100 %; for a lower percent the devices whose bucket falls below the cut"),
    exact: z.boolean().describe('false while lower-percent phases hold estimates (targeted × percent); such a phase does not advance automatically until the exact pass has counted it'),
    countedAt: z.string(),
  }).strict().nullable().describe(
    'Expected population. A phase advances when the confirmed devices of it and the phases before reach max(1, min(minDevices, expected)) and confirmedPercent % of expected ' +
    '(expected minus devices superseded or cancelled); the rollout completes only when, in addition, all expected devices of the last phase have finished ' +
    '(confirmed, failed or reverted). Devices that never poll hold it open: POST …/advance forces the next phase or completion. Null for drafts.'),
}).strict();
export const RolloutViewSchema = RolloutSchema.extend({ counts: Counts, phaseCounts: z.array(Counts) }).strict();
export const RolloutListSchema = z.object({ items: z.array(RolloutSchema), next: z.string().nullable() }).strict();
export const KillSwitchSchema = z.object({ scope: z.string(), until: z.string(), reason: z.string(), createdBy: z.string(), createdAt: z.string() }).strict();

registerSchemas({
  CreateRollout: CreateRolloutSchema, Rollout: RolloutSchema, RolloutView: RolloutViewSchema, RolloutList: RolloutListSchema,
  KillSwitch: KillSwitchSchema, KillSwitchRequest: KillSwitchBody,
});

const json = (name: string) => ({ 'application/json': { schema: ref(name) }, 'application/cbor': { schema: ref(name) } });
const err = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'error', content: json('Error') }]));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

const action = (verb: string, what: string) => ({
  post: {
    tags: ['rollouts'], summary: what, parameters: [idParam],
    responses: { '200': { description: 'the rollout after the action', content: json('RolloutView') }, ...err(401, 403, 404, 409) },
  },
  [Symbol.for('verb')]: verb,
});

export const rolloutsOpenApi: OpenApiFragment = {
  tags: [{ name: 'rollouts', description: 'Staged rollouts of a release (lazy selection at poll time), and the kill switch.' }],
  paths: {
    '/api/v1/rollouts': {
      post: {
        tags: ['rollouts'], summary: 'Create (and by default start) a rollout',
        requestBody: { required: true, content: json('CreateRollout') },
        responses: { '201': { description: 'created', content: json('RolloutView') }, ...err(400, 401, 403, 404, 409, 413, 415) },
      },
      get: {
        tags: ['rollouts'], summary: 'List rollouts (newest first)',
        parameters: [
          { name: 'state', in: 'query', schema: { type: 'string', enum: [...ROLLOUT_STATES] } },
          { name: 'after', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
        ],
        responses: { '200': { description: 'a page', content: json('RolloutList') }, ...err(400, 401, 403) },
      },
    },
    '/api/v1/rollouts/kill-switch': {
      get: { tags: ['rollouts'], summary: 'Kill switches in force', responses: { '200': { description: 'list', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: ref('KillSwitch') } } } } } }, ...err(401, 403) } },
      put: {
        tags: ['rollouts'], summary: 'Tell devices to stop asking for updates until a time',
        requestBody: { required: true, content: json('KillSwitchRequest') },
        responses: { '200': { description: 'in force', content: json('KillSwitch') }, ...err(400, 401, 403) },
      },
      delete: { tags: ['rollouts'], summary: 'Lift the kill switch', parameters: [{ name: 'scope', in: 'query', schema: { type: 'string' } }], responses: { '204': { description: 'lifted' }, ...err(401, 403, 404) } },
    },
    '/api/v1/rollouts/{id}': {
      get: { tags: ['rollouts'], summary: 'A rollout with progress counts by state (total and per phase)', parameters: [idParam], responses: { '200': { description: 'the rollout', content: json('RolloutView') }, ...err(401, 403, 404) } },
    },
    '/api/v1/rollouts/{id}/start': strip(action('start', 'Start a draft rollout')),
    '/api/v1/rollouts/{id}/pause': strip(action('pause', 'Pause: no new devices are admitted; admitted ones may finish')),
    '/api/v1/rollouts/{id}/resume': strip(action('resume', 'Resume a paused rollout')),
    '/api/v1/rollouts/{id}/cancel': strip(action('cancel', 'Cancel: open assignments are cancelled (their reports answer 410)')),
    '/api/v1/rollouts/{id}/advance': strip(action('advance', 'Open the next phase now, or complete the rollout from its last phase (manual phases, devices that never poll, or overriding a pause)')),
  },
};

function strip<T extends object>(o: T): Omit<T, symbol> {
  return { ...o };
}
