/** Walks the whole audit log and recomputes every link of the hash chain. */
import { auditHash, GENESIS_HASH } from './audit.js';
import type { StateStore } from './port.js';

export type AuditVerifyResult =
  | { ok: true; count: number; lastSeq: number; lastHash: string }
  | { ok: false; count: number; brokenAt: number; reason: string };

export async function verifyAuditChain(store: StateStore, batch = 5000): Promise<AuditVerifyResult> {
  let prevHash = GENESIS_HASH;
  let expectSeq = 1;
  let count = 0;
  for (;;) {
    const rows = await store.db.selectFrom('audit_log').selectAll().where('seq', '>=', expectSeq).orderBy('seq').limit(batch).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expectSeq) return { ok: false, count, brokenAt: expectSeq, reason: `entry ${expectSeq} is missing (next is ${seq})` };
      if (r.prev_hash !== prevHash) return { ok: false, count, brokenAt: seq, reason: `entry ${seq} does not link to entry ${seq - 1}` };
      const hash = auditHash({ seq, at: r.at, actor: r.actor, tenantId: r.tenant_id, action: r.action, target: r.target, detailsJson: r.details, prevHash: r.prev_hash });
      if (hash !== r.hash) return { ok: false, count, brokenAt: seq, reason: `entry ${seq} was altered (hash mismatch)` };
      prevHash = r.hash;
      expectSeq = seq + 1;
      count++;
    }
  }
  return { ok: true, count, lastSeq: expectSeq - 1, lastHash: prevHash };
}
