/**
 * Authorization: what each role may do. Authentication (who) is the token; this table (what) is
 * separate so the device API and rollouts can reuse it.
 */
import type { Role } from '../state/index.js';

export const PERMISSIONS = {
  read: ['admin', 'release-manager', 'operator', 'viewer'],
  'tenants.manage': ['admin'],
  'tokens.manage': ['admin'],
  'anchors.write': ['admin'],
  'payloads.write': ['admin', 'release-manager'],
  'releases.write': ['admin', 'release-manager'],
  'devices.register': ['admin', 'release-manager'],
  'devices.write': ['admin', 'operator'],
  'rollouts.write': ['admin', 'release-manager', 'operator'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function roleCan(role: Role, p: Permission): boolean {
  return (PERMISSIONS[p] as readonly Role[]).includes(role);
}
