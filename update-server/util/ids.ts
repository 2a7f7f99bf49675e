import { randomBytes } from 'node:crypto';

/**
 * Time-ordered, collision-resistant ids (`prefix_` + 10 base36 chars of ms time + 16 hex random), so
 * ordering by id approximates creation order without a database sequence (portable SQL).
 */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(10, '0')}${randomBytes(8).toString('hex')}`;
}
