/**
 * Signed device reports.
 *
 * Wire form (`POST /device/v1/assignments/{id}/report`, CBOR or JSON):
 *   { "status": "downloading"|"installed"|"booted"|"confirmed"|"failed"|"reverted",
 *     "code"?: error-table code name or its report byte (failed / reverted),
 *     "report": bstr — a signed report as made by the manifest API's `signReport(report, key, nonce)`:
 *               COSE_Sign1, payload attached (the SUIT_Report, draft-ietf-suit-report), protected
 *               header {1: -8 or -19, 3: "application/suit-report+cbor", 4: kid}, signed with the
 *               device's Ed25519 identity key }
 * JSON carries `report` as base64url.
 *
 * What is authenticated: the COSE_Sign1 signature with the device's registered key, and the report's
 * nonce (suit-report-nonce, key 2) equal to the nonce the server issued with the assignment — so a
 * report cannot be replayed into another assignment or forged by the server. The status word is checked
 * against the signed result: `failed` needs a failure result (its result-code is the code that counts),
 * `downloading`/`installed`/`booted`/`confirmed` need `result: true`; `reverted` accepts either.
 * The device must also sign its status word, as a system-property-claims entry whose component id
 * is [h'73756974666c656574'] ("suitfleet") with parameter -70001 = status text, equal to `status`.
 */
import { z } from 'zod';
import {
  codeForReportByte, ERRORS, UpdateError, bytesEqual, parsePublicKey, verifyReport, type ErrorCode, type SuitReport,
} from '../../manifest/index.js';
import { DEVICE_STATUSES, type DeviceStatus } from '../rollouts/index.js';

export const REPORT_BODY_MAX = 64 * 1024;
export const STATUS_CLAIM_COMPONENT = new TextEncoder().encode('suitfleet');
export const STATUS_CLAIM_PARAM = -70001;

const bytes = z.union([
  z.instanceof(Uint8Array),
  z.string().max(REPORT_BODY_MAX * 2).regex(/^[A-Za-z0-9_-]*$/, 'base64url').transform((s) => new Uint8Array(Buffer.from(s, 'base64url'))),
]);

export const ReportBody = z.object({
  status: z.enum(DEVICE_STATUSES),
  code: z.union([z.string().max(64), z.number().int().min(0).max(255)]).optional(),
  report: bytes.refine((b) => b.length > 0 && b.length <= REPORT_BODY_MAX, 'report must be 1..65536 bytes'),
}).strict();

/**
 * Verifies the signed report with the manifest API (`verifyReport`: COSE_Sign1 with the SUIT report
 * content type, the device's key, signature over the received bytes, then the nonce) and returns the
 * SUIT_Report. Only Ed25519 identity keys are accepted for devices (no MACs: no shared secrets).
 */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function verifySignedReport(cose: Uint8Array, devicePub: Uint8Array, expectedNonce: Uint8Array): SuitReport {
  // As SPKI DER: raw key bytes are ambiguous to parsePublicKey (a raw key starting 0xa0..0xbf or 0x30
  // reads as a COSE_Key map or as DER).
  const key = parsePublicKey(new Uint8Array(Buffer.concat([ED25519_SPKI_PREFIX, devicePub])), { alg: -8 });
  return verifyReport(cose, key, expectedNonce);
}

/** The status word signed inside the report (system-property-claims); undefined when the device left it out. */
export function signedStatusClaim(r: SuitReport): string | undefined {
  for (const s of r.systemProperties ?? []) {
    const id = s.componentId;
    if (id.length === 1 && bytesEqual(id[0]!, STATUS_CLAIM_COMPONENT)) {
      const v = s.properties.get(STATUS_CLAIM_PARAM);
      if (typeof v === 'string') return v;
    }
  }
  return undefined;
}

/** Checks the status word against the signed report; returns the error code that counts (failed/reverted). */
export function reconcileStatus(status: DeviceStatus, code: string | number | undefined, r: SuitReport): { code: string | null } {
  // The status word travels outside the signature, so the device must sign it too (as a
  // system-property claim): otherwise a captured 'downloading' report could be posted as 'confirmed'
  // and counted towards the rollout's success condition (threat model finding F5).
  const claim = signedStatusClaim(r);
  if (claim === undefined) throw new UpdateError('REPORT_MALFORMED', `the signed report carries no status claim; it must sign '${status}'`);
  if (claim !== status) throw new UpdateError('REPORT_MALFORMED', `status '${status}' differs from the signed status '${claim}'`);
  const ok = r.result === true;
  if (status === 'failed' && ok) throw new UpdateError('REPORT_MALFORMED', "status 'failed' but the signed report says success");
  if ((status === 'downloading' || status === 'installed' || status === 'booted' || status === 'confirmed') && !ok) {
    throw new UpdateError('REPORT_MALFORMED', `status '${status}' but the signed report carries a failure`);
  }
  if (r.result !== true) {
    // The signed result code wins over the unsigned one.
    return { code: codeForReportByte(r.result.code) ?? `0x${r.result.code.toString(16)}` };
  }
  if (code === undefined) return { code: null };
  if (typeof code === 'number') return { code: codeForReportByte(code) ?? `0x${code.toString(16)}` };
  if (!(code in ERRORS)) throw new UpdateError('VALIDATION_FAILED', `code: unknown error code '${code}'`);
  return { code: code as ErrorCode };
}
