/**
 * Trust-anchor statements: the device's set of trusted keys, versioned and rotated without a clock
 * (format and rules: docs/trust-anchors.md).
 *
 * A statement is a COSE_Sign (tag 98) with an ATTACHED payload, the deterministic CBOR map
 *   { 1: version, 2: [+ {1: COSE_Key, 2: [+ role]}], 3: firmware threshold, 4: anchor threshold,
 *     5: [* revoked kid (32-byte thumbprint)], ?6: {1: owner name, ?2: previous owner},
 *     ?7: minimum manifest sequence number, ?8: SHA-256 of the previous statement's payload }
 * with roles 1 = firmware (may sign manifests), 2 = anchors (may sign the next statement).
 * The body protected header is `{3: "application/suit-anchors+cbor"}` so a statement can never be
 * mistaken for another signed object of this system.
 *
 * Chain rule (TUF root rotation, adapted): statement N+1 is accepted only if
 *  - its version is exactly N+1,
 *  - it is signed by ≥ anchor-threshold distinct non-revoked "anchors" keys of set N, AND
 *  - by ≥ its own anchor-threshold distinct "anchors" keys of set N+1,
 *  - it revokes every kid set N revoked (revocation is permanent) and lists no revoked key,
 *  - its minimum sequence number does not go down, and `previous` (if present) is set N's digest.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, decodeCbor, encodeCbor, fromHex, toHex, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import type { SuitEnvelope } from '../model.js';
import { findAlgorithm } from './algorithms/registry.js';
import { decodeCoseKey, encodeCoseKey } from './keys/cose-key.js';
import type { KeyRole, SigningKey, TrustedKey } from './keys/types.js';
import { verifyEnvelope, type VerifyEnvelopeResult } from './envelope-auth.js';
import { kidMatches, signSign, toBeSigned, verifyWithKey } from './sign.js';
import { decodeSign, encodeProtected, HEADER, type CoseSign } from './structures.js';

export const ANCHORS_CONTENT_TYPE = 'application/suit-anchors+cbor';
const ROLE_NUM: Record<KeyRole, number> = { firmware: 1, anchors: 2 };
const NUM_ROLE: Record<number, KeyRole> = { 1: 'firmware', 2: 'anchors' };
const MAX_STATEMENT_BYTES = 64 * 1024;

export interface AnchorOwner {
  name: string;
  /** The owner this set was handed over from (informative; the signatures carry the authority). */
  previous?: string;
}

/** A device's set of trusted keys at one version. */
export interface AnchorSet {
  version: number;
  /** Keys with their roles (`roles` absent = ['firmware']). */
  keys: TrustedKey[];
  /** k of n for firmware manifests. */
  threshold: number;
  /** k of n for the next anchor statement. */
  anchorThreshold: number;
  /** Revoked key ids (thumbprint hex). */
  revoked: string[];
  owner?: AnchorOwner;
  /** Manifests with a lower sequence number are refused from this version on (optional floor). */
  minSequence?: number;
  /** SHA-256 (hex) of the previous statement's payload, when the statement names it. */
  previous?: string;
  /** SHA-256 (hex) of this statement's payload (absent for a set built in memory). */
  digest?: string;
}

export type AnchorSetInput = Omit<AnchorSet, 'digest'>;

export interface AnchorStatement {
  set: AnchorSet;
  /** Exact payload bytes (what the signatures cover). */
  payload: Uint8Array;
  cose: CoseSign;
}

function bad(msg: string): UpdateError {
  return new UpdateError('ANCHOR_STATEMENT_MALFORMED', msg);
}

function rolesOf(k: TrustedKey): KeyRole[] {
  return k.roles && k.roles.length > 0 ? k.roles : ['firmware'];
}

/** Keys of a set that hold `role` and are not revoked. */
export function keysWithRole(set: Pick<AnchorSet, 'keys' | 'revoked'>, role: KeyRole): TrustedKey[] {
  const revoked = new Set(set.revoked);
  return set.keys.filter((k) => rolesOf(k).includes(role) && !revoked.has(k.kid));
}

function checkSetSanity(s: AnchorSetInput): void {
  if (!Number.isSafeInteger(s.version) || s.version < 1) throw bad('version must be a positive integer');
  const kids = new Set<string>();
  for (const k of s.keys) {
    if (kids.has(k.kid)) throw bad(`key ${k.kid} is listed twice`);
    kids.add(k.kid);
    if (s.revoked.includes(k.kid)) throw bad(`key ${k.kid} is both trusted and revoked`);
    if (findAlgorithm(k.alg)?.kind === 'mac' || k.kty === 'Symmetric') throw bad('trust anchors are public keys; MAC keys cannot be anchors');
  }
  for (const [name, t, role] of [['firmware', s.threshold, 'firmware'], ['anchor', s.anchorThreshold, 'anchors']] as const) {
    if (!Number.isSafeInteger(t) || t < 1) throw bad(`${name} threshold must be a positive integer`);
    // A threshold no set of keys can meet would lock the device out for good.
    if (keysWithRole(s, role).length < t) throw bad(`${name} threshold ${t} is larger than the number of "${role}" keys`);
  }
  if (s.minSequence !== undefined && (!Number.isSafeInteger(s.minSequence) || s.minSequence < 0)) throw bad('minimum sequence number must be a non-negative integer');
}

/** The deterministic payload bytes of a statement. */
export function encodeAnchorStatement(s: AnchorSetInput): Uint8Array {
  checkSetSanity(s);
  const m = new Map<CborKey, CborValue>([
    [1, s.version],
    [
      2,
      s.keys.map(
        (k) =>
          new Map<CborKey, CborValue>([
            [1, decodeCbor(encodeCoseKey(k))],
            [2, rolesOf(k).map((r) => ROLE_NUM[r])],
          ]),
      ),
    ],
    [3, s.threshold],
    [4, s.anchorThreshold],
    [5, s.revoked.map((kid) => fromHex(kid))],
  ]);
  if (s.owner) {
    const o = new Map<CborKey, CborValue>([[1, s.owner.name]]);
    if (s.owner.previous !== undefined) o.set(2, s.owner.previous);
    m.set(6, o);
  }
  if (s.minSequence !== undefined) m.set(7, s.minSequence);
  if (s.previous !== undefined) m.set(8, fromHex(s.previous));
  return encodeCbor(m);
}

function decodePayload(payload: Uint8Array): AnchorSet {
  let m: CborValue;
  try {
    m = decodeCbor(payload, { maxBytes: MAX_STATEMENT_BYTES, requireDeterministic: true });
  } catch (e) {
    throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', `statement payload is not deterministic CBOR: ${(e as Error).message}`, { cause: e });
  }
  if (!(m instanceof Map)) throw bad('statement payload is not a map');
  for (const k of m.keys()) if (typeof k !== 'number' || k < 1 || k > 8) throw bad(`unknown statement member ${String(k)}`);
  const int = (key: number, what: string): number => {
    const v = m.get(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${what} missing or not an unsigned integer`);
    return v;
  };
  const keysV = m.get(2);
  if (!Array.isArray(keysV) || keysV.length === 0) throw bad('keys missing or empty');
  const keys = keysV.map((e, i) => {
    if (!(e instanceof Map) || e.size !== 2) throw bad(`key entry ${i} is not {1: COSE_Key, 2: roles}`);
    const ck = e.get(1);
    const roles = e.get(2);
    if (!(ck instanceof Map)) throw bad(`key entry ${i}: COSE_Key is not a map`);
    if (!Array.isArray(roles) || roles.length === 0) throw bad(`key entry ${i}: roles missing`);
    let key: TrustedKey;
    try {
      key = decodeCoseKey(ck);
    } catch (err) {
      throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', `key entry ${i}: ${(err as Error).message}`, { cause: err });
    }
    key.roles = roles.map((r) => {
      const role = typeof r === 'number' ? NUM_ROLE[r] : undefined;
      if (!role) throw bad(`key entry ${i}: unknown role ${String(r)}`);
      return role;
    });
    return key;
  });
  const revokedV = m.get(5);
  if (!Array.isArray(revokedV)) throw bad('revoked list missing');
  const revoked = revokedV.map((r) => {
    if (!(r instanceof Uint8Array) || r.length !== 32) throw bad('a revoked kid is not a 32-byte thumbprint');
    return toHex(r);
  });
  const set: AnchorSet = { version: int(1, 'version'), keys, threshold: int(3, 'firmware threshold'), anchorThreshold: int(4, 'anchor threshold'), revoked };
  const ownerV = m.get(6);
  if (ownerV !== undefined) {
    if (!(ownerV instanceof Map) || typeof ownerV.get(1) !== 'string') throw bad('owner is not {1: name}');
    set.owner = { name: ownerV.get(1) as string };
    const prev = ownerV.get(2);
    if (prev !== undefined) {
      if (typeof prev !== 'string') throw bad('previous owner is not a text string');
      set.owner.previous = prev;
    }
  }
  if (m.has(7)) set.minSequence = int(7, 'minimum sequence number');
  const prevV = m.get(8);
  if (prevV !== undefined) {
    if (!(prevV instanceof Uint8Array) || prevV.length !== 32) throw bad('previous is not a 32-byte digest');
    set.previous = toHex(prevV);
  }
  checkSetSanity(set);
  set.digest = toHex(sha256(payload));
  return set;
}

/**
 * Decode a statement's payload bytes (as `AnchorStatement.payload`) into its set: shape and sanity
 * only, no signature. For a verifier that has already verified the statement and keeps only its
 * payload, authenticated by other means (the device's anchor checkpoint).
 */
export function decodeAnchorPayload(payload: Uint8Array): AnchorSet {
  return decodePayload(payload);
}

function protectedBody(): Uint8Array {
  return encodeProtected(new Map<CborKey, CborValue>([[HEADER.CONTENT_TYPE, ANCHORS_CONTENT_TYPE]]));
}

/** Decode a signed statement (COSE_Sign, attached payload). Shape only; no signature is checked. */
export function decodeAnchorStatement(bytes: Uint8Array): AnchorStatement {
  if (bytes.length > MAX_STATEMENT_BYTES) throw new UpdateError('INPUT_TOO_LARGE', `anchor statement is ${bytes.length} bytes; the limit is ${MAX_STATEMENT_BYTES}`);
  const cose = decodeSign(bytes, { requireTag: true, maxBytes: MAX_STATEMENT_BYTES });
  if (cose.payload === null) throw bad('anchor statement payload must be attached');
  if (!bytesEqual(cose.protectedBytes, protectedBody())) throw bad(`anchor statement must carry content type ${ANCHORS_CONTENT_TYPE} in its protected header`);
  return { set: decodePayload(cose.payload), payload: cose.payload, cose };
}

/**
 * Sign a statement with each key (one COSE_Signature per key). For a rotation, pass a threshold of the
 * old set's anchor keys AND of the new set's.
 */
export function signAnchorStatement(s: AnchorSetInput | Uint8Array, keys: SigningKey[]): Uint8Array {
  const payload = s instanceof Uint8Array ? s : encodeAnchorStatement(s);
  if (s instanceof Uint8Array) decodePayload(payload);
  return signSign(payload, keys, { bodyProtected: protectedBody() });
}

/** Distinct keys among `candidates` that signed `stmt` (a failing signature by a named candidate is fatal). */
function signersAmong(stmt: AnchorStatement, candidates: TrustedKey[]): Set<string> {
  const out = new Set<string>();
  for (const s of stmt.cose.signatures) {
    const alg = findAlgorithm(s.alg);
    if (!alg || alg.kind !== 'signature') continue;
    const named = s.kid ? candidates.filter((k) => kidMatches(k, s.kid!)) : candidates.filter((k) => k.kty === alg.keyType);
    const tbs = toBeSigned(stmt.cose, stmt.payload, s);
    let ok = false;
    for (const k of named) {
      if (k.kty !== alg.keyType) continue;
      if (verifyWithKey(s.alg, k, tbs, s.signature)) {
        out.add(k.kid);
        ok = true;
        break;
      }
    }
    if (!ok && s.kid && named.length > 0) {
      throw new UpdateError('SIGNATURE_INVALID', `anchor statement v${stmt.set.version}: the signature by anchor key ${named[0]!.kid} does not verify`, {
        details: { kid: named[0]!.kid },
      });
    }
  }
  return out;
}

/**
 * Verify that `stmt` may follow `current` (rules above). Returns the new set.
 * Throws ANCHOR_CHAIN_BROKEN (version, thresholds, revocation rollback, previous digest),
 * SIGNATURE_INVALID, ANCHOR_STATEMENT_MALFORMED or COSE/CBOR codes.
 */
export function verifyAnchorStatement(stmt: Uint8Array | AnchorStatement, current: AnchorSet): AnchorSet {
  const s = stmt instanceof Uint8Array ? decodeAnchorStatement(stmt) : stmt;
  const next = s.set;
  // Versions, not time: devices have no trusted clock. Exactly N+1, so no statement can be skipped or replayed.
  if (next.version !== current.version + 1) {
    throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement has version ${next.version}; the device is at ${current.version} and accepts only ${current.version + 1}`, {
      details: { version: next.version, current: current.version },
    });
  }
  if (next.previous !== undefined && current.digest !== undefined && next.previous !== current.digest) {
    throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement v${next.version} does not follow the device's v${current.version} (previous digest differs)`);
  }
  const lost = current.revoked.filter((kid) => !next.revoked.includes(kid));
  if (lost.length > 0) throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement v${next.version} un-revokes key(s) ${lost.join(', ')}; revocation is permanent`);
  if ((next.minSequence ?? 0) < (current.minSequence ?? 0)) throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement v${next.version} lowers the minimum sequence number`);
  // TUF 5.3.4: signed by a threshold of the trusted (old) root keys…
  const oldSigners = signersAmong(s, keysWithRole(current, 'anchors'));
  if (oldSigners.size < current.anchorThreshold) {
    throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement v${next.version} is signed by ${oldSigners.size} of the ${current.anchorThreshold} anchor key(s) of v${current.version} it needs`, {
      details: { signed: oldSigners.size, threshold: current.anchorThreshold, set: 'current' },
    });
  }
  // …and by a threshold of the new root's own keys (proves the new keys are held, not just named).
  const newSigners = signersAmong(s, keysWithRole(next, 'anchors'));
  if (newSigners.size < next.anchorThreshold) {
    throw new UpdateError('ANCHOR_CHAIN_BROKEN', `anchor statement v${next.version} is signed by ${newSigners.size} of its own ${next.anchorThreshold} anchor key(s)`, {
      details: { signed: newSigners.size, threshold: next.anchorThreshold, set: 'new' },
    });
  }
  return next;
}

/**
 * The first set a device trusts (provisioned at manufacture): accepted by fiat, but it must be
 * signed by its own anchor threshold, so a typo in a key is caught before it ships.
 */
export function verifyInitialAnchorSet(stmt: Uint8Array | AnchorStatement): AnchorSet {
  const s = stmt instanceof Uint8Array ? decodeAnchorStatement(stmt) : stmt;
  const own = signersAmong(s, keysWithRole(s.set, 'anchors'));
  if (own.size < s.set.anchorThreshold) {
    throw new UpdateError('ANCHOR_CHAIN_BROKEN', `initial anchor set v${s.set.version} is signed by ${own.size} of its ${s.set.anchorThreshold} anchor key(s)`);
  }
  return s.set;
}

/** Walk statements from `startSet` (each must be the next version). Returns the last set. */
export function verifyAnchorChain(startSet: AnchorSet, statements: (Uint8Array | AnchorStatement)[]): AnchorSet {
  let set = startSet;
  for (const st of statements) set = verifyAnchorStatement(st, set);
  return set;
}

/** verifyEnvelope with a set's firmware keys, firmware threshold and revocations. */
export function verifyEnvelopeWithAnchors(env: SuitEnvelope, set: AnchorSet, opts: { allowedAlgs?: number[] } = {}): VerifyEnvelopeResult {
  return verifyEnvelope(env, keysWithRole(set, 'firmware'), { threshold: set.threshold, revokedKids: set.revoked, ...opts });
}
