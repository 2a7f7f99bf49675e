/**
 * Signed device reports (draft-ietf-suit-report-18 §4 "SUIT_Report_Protected"): a COSE_Sign1 (or
 * COSE_Mac0 for a device with a symmetric key) with the encoded SUIT_Report ATTACHED, bound to a
 * server nonce: the report's nonce (key 2) must equal the nonce the server issued, so a captured
 * report cannot be replayed for another request.
 *
 * The protected header carries `{1: alg, 3: "application/suit-report+cbor", 4: kid}`; the content
 * type keeps a report signature from being usable as any other signature the device key makes.
 */
import { bytesEqual, decodeCbor, toHex, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { REPORT } from '../keys.js';
import { decodeReport, encodeReport, type SuitReport } from '../processor/index.js';
import { findAlgorithm, getAlgorithm } from './algorithms/registry.js';
import type { SigningKey, TrustedKey } from './keys/types.js';
import { coseKidOf, kidMatches, toBeSigned, verifyWithKey } from './sign.js';
import { coseSigStructure, decodeCoseMessage, encodeMac0, encodeProtected, encodeSign1, HEADER } from './structures.js';

export const REPORT_CONTENT_TYPE = 'application/suit-report+cbor';
const MAX_SIGNED_REPORT = 64 * 1024;

function nonceOf(reportBytes: Uint8Array): Uint8Array | undefined {
  let m: CborValue;
  try {
    m = decodeCbor(reportBytes, { maxBytes: MAX_SIGNED_REPORT, maxDepth: 16 });
  } catch (e) {
    throw new UpdateError('REPORT_MALFORMED', `the report is not CBOR: ${(e as Error).message}`, { cause: e });
  }
  if (!(m instanceof Map)) throw new UpdateError('REPORT_MALFORMED', 'SUIT_Report is not a map');
  const n = m.get(REPORT.NONCE);
  if (n !== undefined && !(n instanceof Uint8Array)) throw new UpdateError('REPORT_MALFORMED', 'SUIT_Report nonce is not a byte string');
  return n;
}

/**
 * Sign a report for the server. `report` is a SuitReport (its nonce is set to `nonce` when given) or
 * already-encoded report bytes (which must then carry `nonce`, if given).
 */
export function signReport(report: SuitReport | Uint8Array, key: SigningKey, nonce?: Uint8Array): Uint8Array {
  let payload: Uint8Array;
  if (report instanceof Uint8Array) {
    const inside = nonceOf(report);
    if (nonce && (!inside || !bytesEqual(inside, nonce))) throw new UpdateError('USAGE', 'the encoded report does not carry the given nonce');
    payload = report;
  } else {
    payload = encodeReport(nonce ? { ...report, nonce } : report);
  }
  const prot = encodeProtected(
    new Map<CborKey, CborValue>([
      [HEADER.ALG, key.alg],
      [HEADER.CONTENT_TYPE, REPORT_CONTENT_TYPE],
      [HEADER.KID, coseKidOf(key.publicKey())],
    ]),
  );
  const a = getAlgorithm(key.alg);
  if (a.kind === 'mac') {
    return encodeMac0({ protectedBytes: prot, payload, tag: key.sign(coseSigStructure('MAC0', prot, payload)) });
  }
  return encodeSign1({ protectedBytes: prot, payload, signature: key.sign(coseSigStructure('Signature1', prot, payload)) });
}

/**
 * Verify a signed report from `devicePub` and its binding to `expectedNonce`; returns the encoded
 * report bytes (exactly as signed). SIGNATURE_INVALID / KEY_UNTRUSTED for the signature,
 * CHALLENGE_INVALID when the nonce is absent or another one (a replayed report).
 */
export function verifyReportPayload(bytes: Uint8Array, devicePub: TrustedKey, expectedNonce: Uint8Array): Uint8Array {
  const msg = decodeCoseMessage(bytes, { maxBytes: MAX_SIGNED_REPORT });
  if (msg.kind === 'sign') throw new UpdateError('COSE_MALFORMED', 'a signed report is a COSE_Sign1 or COSE_Mac0, not a COSE_Sign');
  if (msg.payload === null) throw new UpdateError('COSE_MALFORMED', 'a signed report carries its payload attached');
  if (msg.protected.get(HEADER.CONTENT_TYPE) !== REPORT_CONTENT_TYPE) {
    throw new UpdateError('COSE_MALFORMED', `a signed report must carry content type ${REPORT_CONTENT_TYPE} in its protected header`);
  }
  const alg = findAlgorithm(msg.alg);
  if (!alg || alg.kind !== (msg.kind === 'mac0' ? 'mac' : 'signature')) throw new UpdateError('ALGORITHM_UNSUPPORTED', `algorithm ${msg.alg} cannot protect a report`);
  if (msg.kid && !kidMatches(devicePub, msg.kid)) {
    throw new UpdateError('KEY_UNTRUSTED', `the report is signed by key ${toHex(msg.kid)}, not by this device's key ${devicePub.kid}`);
  }
  const sig = msg.kind === 'mac0' ? msg.tag : msg.signature;
  if (!verifyWithKey(msg.alg, devicePub, toBeSigned(msg, msg.payload), sig)) {
    throw new UpdateError('SIGNATURE_INVALID', `the report's ${msg.kind === 'mac0' ? 'MAC' : 'signature'} does not verify with the device key ${devicePub.kid}`);
  }
  // Only after the signature: look at the content (limit → decode → shape → signature → meaning).
  const nonce = nonceOf(msg.payload);
  if (!nonce) throw new UpdateError('CHALLENGE_INVALID', 'the report carries no nonce; it cannot be bound to this request');
  if (!bytesEqual(nonce, expectedNonce)) throw new UpdateError('CHALLENGE_INVALID', 'the report was made for another nonce (replayed or stale)');
  return msg.payload;
}

/** `verifyReportPayload`, then decode the SUIT_Report. */
export function verifyReport(bytes: Uint8Array, devicePub: TrustedKey, expectedNonce: Uint8Array): SuitReport {
  return decodeReport(verifyReportPayload(bytes, devicePub, expectedNonce));
}
