/** OpenAPI description of `/device/v1` (CBOR by default; JSON with base64url byte strings when asked). */
import { z } from 'zod';
import type { OpenApiFragment } from '../context.js';
import { ref, registerSchemas } from '../http/schemas.js';
import { DEVICE_STATUSES } from '../rollouts/index.js';
import { SeqOut } from '../util/seq.js';

const b64 = z.string().describe('bytes: a CBOR byte string, or base64url text in JSON');
const PayloadChoice = z.object({
  component: z.number().int(), kind: z.enum(['full', 'delta']), sha256: z.string(), size: z.number().int(), url: z.string(),
  from: z.string().optional(), to: z.string().optional(),
}).strict();
export const DeviceSchemas = {
  DeviceChallengeRequest: z.object({ deviceId: z.string() }).strict(),
  DeviceChallenge: z.object({ challenge: b64, expiresIn: z.number().int(), sign: z.string() }).strict(),
  DeviceTokenRequest: z.object({ deviceId: z.string(), challenge: b64, signature: b64.describe('Ed25519 signature (64 bytes) over CBOR ["suit-device-auth-v1", deviceId, challenge]') }).strict(),
  DeviceToken: z.object({ token: z.string(), expiresIn: z.number().int(), expiresAt: z.string() }).strict(),
  PayloadChoice,
  PollAnswer: z.object({
    v: z.literal(1),
    status: z.enum(['none', 'update', 'paused']),
    pollAfter: z.number().int().describe('seconds until the next poll (jittered)'),
    until: z.string().optional(), reason: z.string().optional(),
    assignment: z.object({ id: z.string(), nonce: b64, state: z.string(), reportUrl: z.string() }).strict().optional(),
    release: z.object({ id: z.string(), sequence: SeqOut, version: z.string().nullable() }).strict().optional(),
    envelope: b64.nullable().optional(), envelopeUrl: z.string().optional(), envelopeSize: z.number().int().optional(), envelopeSha256: z.string().optional(),
    payloads: z.array(PayloadChoice).optional(),
  }).strict(),
  DeviceReport: z.object({
    status: z.enum(DEVICE_STATUSES), code: z.union([z.string(), z.number().int()]).optional(),
    report: b64.describe('COSE_Sign1 (payload attached) over a SUIT_Report whose nonce is the assignment nonce'),
  }).strict(),
  DeviceReportAnswer: z.object({ assignment: z.object({ id: z.string(), state: z.string() }).strict(), recorded: z.boolean(), rolloutState: z.string().nullable() }).strict(),
};
registerSchemas(DeviceSchemas);

const both = (name: string) => ({ 'application/cbor': { schema: ref(name) }, 'application/json': { schema: ref(name) } });
const err = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: 'error', content: both('Error') }]));
const bin = { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } };
const dl = (summary: string) => ({
  get: {
    tags: ['device'], summary,
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } }, { name: 'Range', in: 'header', schema: { type: 'string' } }],
    responses: { '200': { description: 'the object', content: bin }, '206': { description: 'a byte range', content: bin }, ...err(401, 404, 416, 429) },
  },
});

export const deviceOpenApi: OpenApiFragment = {
  tags: [{ name: 'device', description: 'Device protocol v1: CBOR by default, JSON when asked.' }],
  paths: {
    '/device/v1/auth/challenge': { post: { tags: ['device'], security: [], summary: 'Ask for a challenge (32 bytes, single use, 60 s)', requestBody: { required: true, content: both('DeviceChallengeRequest') }, responses: { '200': { description: 'challenge', content: both('DeviceChallenge') }, ...err(400, 403, 413, 415, 429) } } },
    '/device/v1/auth/token': { post: { tags: ['device'], security: [], summary: 'Exchange a signed challenge for a short-lived bearer token', requestBody: { required: true, content: both('DeviceTokenRequest') }, responses: { '200': { description: 'token', content: both('DeviceToken') }, ...err(400, 401, 403, 413, 415, 429) } } },
    '/device/v1/poll': {
      get: {
        tags: ['device'], summary: 'Ask for an update (ETag / If-None-Match → 304; X-Poll-After; Retry-After under load)',
        parameters: [
          { name: 'seq', in: 'query', description: 'sequence number the device runs: decimal uint64 (0..2^64-1, up to 20 digits)', schema: { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } },
          { name: 'digest', in: 'query', schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          { name: 'class', in: 'query', schema: { type: 'string' } },
          { name: 'If-None-Match', in: 'header', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'none / update / paused', content: both('PollAnswer') }, '304': { description: 'unchanged' }, ...err(400, 401, 403, 422, 429) },
      },
    },
    '/device/v1/payloads/{id}': dl('Full image of the assigned release (Range, resume)'),
    '/device/v1/deltas/{id}': dl('Delta patch towards the assigned release (Range, resume)'),
    '/device/v1/releases/{id}/envelope': dl('The signed SUIT envelope of the assigned release'),
    '/device/v1/assignments/{id}/report': {
      post: {
        tags: ['device'], summary: 'Post a signed SUIT_Report with a status word',
        description:
          "`report` is a COSE_Sign1 by the device's identity key over a SUIT_Report whose nonce is the assignment's, and which signs the same status word as a system-property claim (component id h'73756974666c656574', parameter -70001); a report without that claim is refused with REPORT_MALFORMED.",
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: both('DeviceReport') },
        responses: { '200': { description: 'recorded', content: both('DeviceReportAnswer') }, ...err(400, 401, 403, 404, 410, 413, 415, 422, 429) },
      },
    },
  },
};
