/** Rollouts: public face (the device API and the server wiring import from here). */
import type { Mount } from '../context.js';
import { rolloutsOpenApi } from './openapi.js';
import { rolloutsRouter } from './router.js';

export * from './model.js';
export { bucketOf, compileTarget, parseTagExpr, type DeviceFacts } from './selection.js';
export { evaluate, transition, ADMITTING, SERVING, type Decision, type RolloutAction } from './machine.js';
export { RolloutService, rolloutService, type RolloutView, type Actor } from './service.js';
export { KillSwitches, killSwitches, GLOBAL_SCOPE, type KillSwitch } from './kill-switch.js';
export type { RolloutTables } from './tables.js';

export const rolloutsMount: Mount = { path: '/api/v1/rollouts', router: rolloutsRouter, openapi: rolloutsOpenApi };
