/**
 * The routers the server mounts, in order. To add one: export a `Mount` from your part's index.ts and
 * append ONE line here. More specific paths first.
 */
import type { Mount } from './context.js';
import { managementMount } from './management-api/index.js';
import { rolloutsMount } from './rollouts/index.js';
import { deviceApiMount } from './device-api/index.js';

export const defaultMounts: readonly Mount[] = [
  rolloutsMount,
  deviceApiMount,
  managementMount,
];
