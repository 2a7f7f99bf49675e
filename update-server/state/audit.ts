/**
 * The audit log's hash chain. Each entry commits to its predecessor:
 *   hash = sha256(JSON.stringify([seq, at, actor, tenantId, action, target, detailsJson, prevHash]))
 * where detailsJson is the canonical (sorted-key) JSON text exactly as stored. Editing, deleting or
 * reordering any stored row breaks every later link, which `verifyAuditChain` detects.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted recursively, so the stored text (and so the hash) is canonical. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(typeof x === 'bigint' ? x.toString() : x);
    }
    return out;
  }
  return typeof v === 'bigint' ? v.toString() : v;
}

export interface AuditHashInput {
  seq: number;
  at: string;
  actor: string;
  tenantId: string | null;
  action: string;
  target: string | null;
  detailsJson: string;
  prevHash: string;
}

export function auditHash(e: AuditHashInput): string {
  const text = JSON.stringify([e.seq, e.at, e.actor, e.tenantId, e.action, e.target, e.detailsJson, e.prevHash]);
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
