/**
 * The device's trust-anchor store (formats and chain rules: manifest/cose/anchors.ts, docs/trust-anchors.md).
 *
 * Root: the initial anchor statement burnt into OTP at manufacturing (self-signed by its own anchor
 * threshold, `verifyInitialAnchorSet`); it never changes.
 * Current: ONE journal record (key 2), so an update is atomic: after a cut the old or the new set is
 * current, never neither. Two formats:
 *  - checkpoint (written since the longevity work): `{1: payload, 2: tag}` — only the payload of the
 *    latest statement the device verified (its keys, thresholds, revocations; no signatures), and
 *    tag = HMAC-SHA256(anchor-MAC key, "suit-anchor-checkpoint" || payload). The MAC key is a
 *    device-unique OTP secret only the bootloader reads (like PSA's HUK), so writing flash still cannot
 *    inject a key, and the record is bounded by one set, not by the number of rotations: with HSS-LMS
 *    signatures (1.3–3 KB each) a whole chain outgrows a 2–16 KiB journal unit within a few rotations
 *    (docs/longevity.md).
 *  - legacy chain: a CBOR array of every statement since the root, re-verified from the OTP root at
 *    every boot. Still read (devices in the field); the next anchor update replaces it by a checkpoint.
 *
 * Verification memo: like envelope signatures (verify.ts), the chain check is a pure function of the
 * exact bytes (OTP statement + stored chain); the simulator memoises it by SHA-256 of those bytes.
 * A device may keep the result in RAM for one boot only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  UpdateError,
  decodeAnchorPayload,
  decodeAnchorStatement,
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

const CHECKPOINT_LABEL = new TextEncoder().encode('suit-anchor-checkpoint');

function checkpointTag(macKey: Uint8Array, payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', macKey).update(CHECKPOINT_LABEL).update(payload).digest());
}

/** The journal record of a checkpoint: the verified statement's payload and its device MAC. */
export function encodeCheckpoint(statementOrPayload: Uint8Array, macKey: Uint8Array, isPayload = false): Uint8Array {
  const payload = isPayload ? statementOrPayload : decodeAnchorStatement(statementOrPayload).payload;
  return encodeCbor(new Map<number, Uint8Array>([[1, payload], [2, checkpointTag(macKey, payload)]]));
}

/** Bytes of the anchor record a statement leads to (the sweep fills the journal up to it). */
export function anchorRecordLength(statement: Uint8Array): number {
  return encodeCheckpoint(statement, new Uint8Array(32)).length;
}

export type StoredAnchors = { kind: 'none' } | { kind: 'chain'; chain: Uint8Array[] } | { kind: 'checkpoint'; payload: Uint8Array; tag: Uint8Array };

export function decodeStoredAnchors(bytes: Uint8Array | undefined): StoredAnchors {
  if (bytes === undefined) return { kind: 'none' };
  const v = decodeCbor(bytes, { maxBytes: 64 * 1024 });
  if (v instanceof Map) {
    const payload = v.get(1);
    const tag = v.get(2);
    if (v.size !== 2 || !(payload instanceof Uint8Array) || !(tag instanceof Uint8Array) || tag.length !== 32) {
      throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', 'stored anchor checkpoint is malformed');
    }
    return { kind: 'checkpoint', payload: payload.slice(), tag: tag.slice() };
  }
  return { kind: 'chain', chain: decodeChain(bytes) };
}

/**
 * The current set from the stored record: a checkpoint is accepted only with a valid device MAC and
 * a version not below the OTP root's; a legacy chain is verified from the OTP root.
 */
export function storedAnchors(rootStatement: Uint8Array, stored: StoredAnchors, macKey: Uint8Array): AnchorSet {
  if (stored.kind === 'none') return currentAnchors(rootStatement, []);
  if (stored.kind === 'chain') return currentAnchors(rootStatement, stored.chain);
  const want = checkpointTag(macKey, stored.payload);
  if (!timingSafeEqual(Buffer.from(want), Buffer.from(stored.tag))) {
    throw new UpdateError('SIGNATURE_INVALID', 'stored anchor checkpoint does not carry this device\'s MAC');
  }
  const set = decodeAnchorPayload(stored.payload);
  const root = currentAnchors(rootStatement, []);
  if (set.version < root.version) throw new UpdateError('ANCHOR_CHAIN_BROKEN', 'stored anchor checkpoint is older than the OTP root');
  return set;
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
