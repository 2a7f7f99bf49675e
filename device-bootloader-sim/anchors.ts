/**
 * The device's trust-anchor store (formats and chain rules: manifest/cose/anchors.ts, docs/trust-anchors.md).
 *
 * Root: the initial anchor statement burnt into OTP at manufacturing (self-signed by its own anchor
 * threshold, `verifyInitialAnchorSet`); it never changes.
 * Current: the root advanced by the chain of signed anchor statements kept in ONE journal record, so
 * an update is atomic: after a cut the old chain or the new chain is current, never neither.
 * The whole chain is re-verified from the OTP root at every boot, so writing flash cannot inject a key.
 *
 * Verification memo: like envelope signatures (verify.ts), the chain check is a pure function of the
 * exact bytes (OTP statement + stored chain); the simulator memoises it by SHA-256 of those bytes.
 * A device may keep the result in RAM for one boot only.
 */
import {
  UpdateError,
  computeDigest,
  decodeCbor,
  encodeCbor,
  keysWithRole,
  toHex,
  verifyAnchorChain,
  verifyInitialAnchorSet,
  type AnchorSet,
  type TrustedKey,
} from '../manifest/index.js';

export type DeviceAnchorSet = AnchorSet;

/** Journal encoding of the statement chain: CBOR array of the statements' exact bytes. */
export function encodeChain(statements: Uint8Array[]): Uint8Array {
  return encodeCbor(statements);
}

export function decodeChain(bytes: Uint8Array | undefined): Uint8Array[] {
  if (bytes === undefined) return [];
  const v = decodeCbor(bytes, { maxBytes: 64 * 1024 });
  if (!Array.isArray(v) || !v.every((x) => x instanceof Uint8Array)) throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', 'stored anchor chain is malformed');
  return (v as Uint8Array[]).map((b) => b.slice());
}

const memo = new Map<string, AnchorSet | UpdateError>();

/** Current anchors = OTP root statement advanced by the stored chain. Throws if anything does not verify. */
export function currentAnchors(rootStatement: Uint8Array, chain: Uint8Array[]): AnchorSet {
  const key = toHex(computeDigest(-16, encodeCbor([rootStatement, ...chain])).bytes);
  const hit = memo.get(key);
  if (hit instanceof UpdateError) throw hit;
  if (hit) return hit;
  try {
    const set = verifyAnchorChain(verifyInitialAnchorSet(rootStatement), chain);
    memo.set(key, set);
    return set;
  } catch (e) {
    if (e instanceof UpdateError) memo.set(key, e);
    throw e;
  }
}

/** A short fingerprint of a set, for caching verification results per (envelope, key set). */
export function anchorFingerprint(set: AnchorSet): string {
  return `${set.version}:${set.threshold}:${set.keys.map((k) => k.kid).join(',')}:${set.revoked.join(',')}:${set.minSequence ?? 0}`;
}

/** Keys of the set that may sign firmware and are not revoked. */
export function firmwareKeys(set: AnchorSet): TrustedKey[] {
  return keysWithRole(set, 'firmware');
}
