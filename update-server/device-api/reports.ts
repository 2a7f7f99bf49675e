/**
 * Signed device reports.
 *
 * Wire form (`POST /device/v1/assignments/{id}/report`, CBOR or JSON):
 *   { "status": "downloading"|"installed"|"booted"|"confirmed"|"failed"|"reverted",
 *     "code"?: error-table code name or its report byte (failed / reverted),
 *     "report": bstr — COSE_Sign1 (tagged or not, payload attached) over a SUIT_Report
 *               (draft-ietf-suit-report), signed with the device's Ed25519 identity key }
 * JSON carries `report` as base64url.
 *
 * What is authenticated: the COSE_Sign1 signature with the device's registered key, and the report's
 * nonce (suit-report-nonce, key 2) equal to the nonce the server issued with the assignment — so a
 * report cannot be replayed into another assignment or forged by the server. The status word is checked
 * against the signed result: `failed` needs a failure result (its result-code is the code that counts),
 * `downloading`/`installed`/`booted`/`confirmed` need `result: true`; `reverted` accepts either.
 * A device can additionally sign its status word as a system-property-claims entry whose component id
 * is [h'73756974666c656574'] ("suitfleet") with parameter -70001 = status text; when present it must
 * equal `status`.
 */
import { z } from 'zod';
import {
  codeForReportByte, decodeCbor, encodeCbor, ERRORS, Tagged, UpdateError, bytesEqual, decodeReport,
  type CborValue, type ErrorCode, type SuitReport,
} from '../../manifest/index.js';
import { DEVICE_STATUSES, type DeviceStatus } from '../rollouts/index.js';
import { verifyEd25519 } from './identity.js';

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

const COSE_SIGN1_TAG = 18;
const HDR_ALG = 1;
const ED25519_ALGS = new Set([-8, -19]);

/**
 * Verifies a COSE_Sign1 with attached payload against the device's Ed25519 key and returns the
 * SUIT_Report it carries, after checking its nonce. Signature first, meaning after: the payload is
 * decoded only once the signature over the received bytes verified.
 */
export function verifySignedReport(cose: Uint8Array, devicePub: Uint8Array, expectedNonce: Uint8Array): SuitReport {
  let v: CborValue;
  try {
    v = decodeCbor(cose, { maxBytes: REPORT_BODY_MAX, maxDepth: 16 });
  } catch (e) {
    throw e instanceof UpdateError ? e : new UpdateError('COSE_MALFORMED', 'report is not CBOR', { cause: e });
  }
  if (v instanceof Tagged) {
    if (v.tag !== COSE_SIGN1_TAG) throw new UpdateError('COSE_MALFORMED', `expected COSE_Sign1 (tag 18), got tag ${v.tag}`);
    v = v.value;
  }
  if (!Array.isArray(v) || v.length !== 4) throw new UpdateError('COSE_MALFORMED', 'COSE_Sign1 must be a 4-element array');
  const [prot, unprot, payload, sig] = v;
  if (!(prot instanceof Uint8Array) || !(unprot instanceof Map) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
    throw new UpdateError('COSE_MALFORMED', 'COSE_Sign1 members have the wrong types (payload must be attached)');
  }
  let alg: CborValue;
  try {
    const ph = prot.length === 0 ? new Map() : decodeCbor(prot, { maxBytes: 1024, maxDepth: 4 });
    if (!(ph instanceof Map)) throw new Error('protected header is not a map');
    if (ph.has(2)) throw new Error('crit headers are not supported');
    alg = ph.get(HDR_ALG);
  } catch (e) {
    throw new UpdateError('COSE_MALFORMED', `protected header: ${(e as Error).message}`, { cause: e });
  }
  if (typeof alg !== 'number' || !ED25519_ALGS.has(alg)) throw new UpdateError('ALGORITHM_UNSUPPORTED', `device reports must be Ed25519 (-8 or -19), got ${String(alg)}`);
  // RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]
  const tbs = encodeCbor(['Signature1', prot, new Uint8Array(0), payload]);
  if (!verifyEd25519(devicePub, tbs, sig)) throw new UpdateError('SIGNATURE_INVALID', 'the report signature does not verify with the device identity key');
  const report = decodeReport(payload);
  if (!report.nonce || !bytesEqual(report.nonce, expectedNonce)) {
    throw new UpdateError('CHALLENGE_INVALID', 'the report is not bound to the nonce issued for this assignment');
  }
  return report;
}

/** The status word signed inside the report (system-property-claims), if the device put one there. */
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
  const claim = signedStatusClaim(r);
  if (claim !== undefined && claim !== status) throw new UpdateError('REPORT_MALFORMED', `status '${status}' differs from the signed status '${claim}'`);
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
