/** Device API (`/device/v1`): public face for the server wiring and other parts. */
import type { Mount } from '../context.js';
import { deviceOpenApi } from './openapi.js';
import { deviceRouter, pollHandler } from './router.js';
import { deviceApi } from './service.js';

export { deviceRouter, pollHandler, send as sendDevice, wantsJson } from './router.js';
export { DeviceApi, deviceApi, deviceApiOptions, scheduleDeltas, DEFAULT_DEVICE_API, type DeviceApiOptions, type PollAnswer, type PayloadChoice } from './service.js';
export { DeviceAuth, DEVICE_TOKEN_PREFIX, type DeviceAuthOptions } from './auth.js';
export { authMessage, parseIdentityKey, verifyEd25519, AUTH_CONTEXT } from './identity.js';
export { verifySignedReport, reconcileStatus, STATUS_CLAIM_COMPONENT, STATUS_CLAIM_PARAM } from './reports.js';
export { DeltaService, inProcessEncoder, workerEncoder, type DeltaRecord, type DeltaEncoder } from './deltas.js';
export { RateLimiter } from './rate-limit.js';

export const deviceApiMount: Mount = {
  path: '/device/v1',
  router: (ctx) => deviceRouter(ctx),
  openapi: deviceOpenApi,
  early: (ctx) => [{ path: '/device/v1/poll', handler: pollHandler(ctx, deviceApi(ctx)) }],
};
