/**
 * The routers the server mounts, in order. To add one: export a `Mount` from your part's index.ts and
 * append ONE line here. More specific paths first.
 */
import type { Mount } from './context.js';
import { managementMount } from './management-api/index.js';

export const defaultMounts: readonly Mount[] = [
  managementMount,
];
