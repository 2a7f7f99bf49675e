/**
 * Recording a device's report: one transaction that stores the report, moves the device's state and
 * appends to the audit chain. The device API calls this after verifying the signed report.
 */
import type { ServerContext } from '../context.js';
import type { ReportRecord, ReportResult, StateStore, UpdateState } from '../state/index.js';
import { newId } from '../util/ids.js';
import { seqJsonOrNull } from '../util/seq.js';

export interface ReportInput {
  deviceId: string;
  releaseId: string | null;
  result: ReportResult;
  /** Sequence number and image digest the device runs after this report (if it says). */
  sequence: bigint | null;
  digest: string | null;
  /** The decoded report, as JSON, for the history. */
  body: unknown;
  /** Audit actor; default `device:<id>`. */
  actor?: string;
}

const STATE_AFTER: Record<ReportResult, UpdateState | undefined> = {
  success: 'idle',
  installed_base: undefined,
  in_progress: 'in_progress',
  failed: 'failed',
  reverted: 'reverted',
};

export async function recordReport(ctx: ServerContext, input: ReportInput, tx?: StateStore): Promise<ReportRecord> {
  const run = async (s: StateStore): Promise<ReportRecord> => {
    const at = new Date().toISOString();
    const device = await s.getDevice(input.deviceId);
    const rec: ReportRecord = {
      id: newId('rep'), deviceId: input.deviceId, tenantId: device?.tenantId ?? null, releaseId: input.releaseId,
      result: input.result, sequence: input.sequence, digest: input.digest, body: input.body ?? null, createdAt: at,
    };
    await s.insertReport(rec);
    const next = STATE_AFTER[input.result];
    await s.updateDevice(input.deviceId, {
      lastSeen: at,
      lastReport: { id: rec.id, result: rec.result, releaseId: rec.releaseId, sequence: seqJsonOrNull(rec.sequence), at },
      ...(next !== undefined ? { updateState: next } : {}),
      ...(input.sequence !== null && (input.result === 'success' || input.result === 'installed_base' || input.result === 'reverted') ? { currentSeq: input.sequence } : {}),
      ...(input.digest !== null && (input.result === 'success' || input.result === 'installed_base' || input.result === 'reverted') ? { currentDigest: input.digest } : {}),
    }, at);
    await s.appendAudit({
      actor: input.actor ?? `device:${input.deviceId}`, tenantId: rec.tenantId, action: `report.${input.result}`, target: input.deviceId,
      details: { reportId: rec.id, releaseId: rec.releaseId, sequence: seqJsonOrNull(rec.sequence), digest: rec.digest },
    }, at);
    return rec;
  };
  const rec = tx ? await run(tx) : await ctx.store.transaction(run);
  ctx.metrics.reports.inc({ result: rec.result });
  ctx.events.emit('report.recorded', rec);
  return rec;
}
