/**
 * Making and checking single COSE signatures/MACs with our keys and the algorithm registry.
 * Headers we write: protected `{1: alg, 4: kid}` and an empty unprotected map, where kid is the key's
 * COSE kid (by default the 32 raw bytes of its RFC 9679 thumbprint). The kid is protected so that
 * every byte of a block we make is covered by its signature: flipping any bit of a signed envelope
 * is detected (an unprotected kid could be rewritten or relabelled without breaking the signature).
 */
import { bytesEqual, fromHex, toHex, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { findAlgorithm, getAlgorithm } from './algorithms/registry.js';
import type { SigningKey, TrustedKey } from './keys/types.js';
import {
  coseSigStructure,
  decodeMac0,
  decodeSign,
  decodeSign1,
  encodeMac0,
  encodeProtected,
  encodeSign,
  encodeSign1,
  HEADER,
  type CoseMac0,
  type CoseSign,
  type CoseSign1,
  type CoseSignature,
} from './structures.js';

/** The kid bytes a key is referenced by in COSE headers. */
export function coseKidOf(k: TrustedKey): Uint8Array {
  return k.coseKid ?? fromHex(k.kid);
}

/** True when COSE `kid` bytes name this key (its thumbprint, or its explicit COSE kid). */
export function kidMatches(k: TrustedKey, kid: Uint8Array): boolean {
  if (k.coseKid && bytesEqual(k.coseKid, kid)) return true;
  return kid.length === 32 && toHex(kid) === k.kid;
}

function headersFor(key: SigningKey, includeKid: boolean): { protectedBytes: Uint8Array; unprotected: Map<CborKey, CborValue> } {
  const prot = new Map<CborKey, CborValue>([[HEADER.ALG, key.alg]]);
  if (includeKid) prot.set(HEADER.KID, coseKidOf(key.publicKey()));
  return { protectedBytes: encodeProtected(prot), unprotected: new Map() };
}

/**
 * Verify one signature/MAC with one key. Returns false for a signature that does not verify.
 * Throws ALGORITHM_UNSUPPORTED for an unknown algorithm and KEY_UNTRUSTED when the key is of
 * another type than the algorithm needs (a policy error, not a bad signature).
 */
export function verifyWithKey(alg: number, key: TrustedKey, toBeSigned: Uint8Array, signature: Uint8Array): boolean {
  const a = getAlgorithm(alg);
  if (a.keyType !== key.kty) {
    throw new UpdateError('KEY_UNTRUSTED', `algorithm ${a.name} (${alg}) cannot be verified with ${key.kty} key ${key.kid}`, {
      details: { alg, kid: key.kid },
    });
  }
  return a.verify(key.publicKey, toBeSigned, signature);
}

/** Whether `key` can verify algorithm `alg` at all (same key type, registered). */
export function keyFitsAlg(key: TrustedKey, alg: number): boolean {
  return findAlgorithm(alg)?.keyType === key.kty;
}

export interface SignOptions {
  /** Put the kid into the protected header (default true). */
  kid?: boolean;
  externalAad?: Uint8Array;
}

/** COSE_Sign1_Tagged with a detached (nil) payload: what SUIT puts in its authentication wrapper. */
export function signSign1Detached(payload: Uint8Array, key: SigningKey, opts: SignOptions = {}): Uint8Array {
  return signSign1(payload, key, { ...opts, detached: true });
}

/** COSE_Sign1_Tagged, payload attached unless `detached`. */
export function signSign1(payload: Uint8Array, key: SigningKey, opts: SignOptions & { detached?: boolean } = {}): Uint8Array {
  const a = getAlgorithm(key.alg);
  if (a.kind !== 'signature') throw new UpdateError('USAGE', `${a.name} is a MAC; use createMac0`);
  const h = headersFor(key, opts.kid ?? true);
  const tbs = coseSigStructure('Signature1', h.protectedBytes, payload, opts.externalAad ? { externalAad: opts.externalAad } : {});
  const signature = key.sign(tbs);
  return encodeSign1({ ...h, payload: opts.detached ? null : payload, signature });
}

/** COSE_Mac0_Tagged (HMAC 256/256), payload attached unless `detached`. */
export function createMac0(payload: Uint8Array, key: SigningKey, opts: SignOptions & { detached?: boolean } = {}): Uint8Array {
  const a = getAlgorithm(key.alg);
  if (a.kind !== 'mac') throw new UpdateError('USAGE', `${a.name} is not a MAC algorithm`);
  const h = headersFor(key, opts.kid ?? true);
  const tbs = coseSigStructure('MAC0', h.protectedBytes, payload, opts.externalAad ? { externalAad: opts.externalAad } : {});
  return encodeMac0({ ...h, payload: opts.detached ? null : payload, tag: key.sign(tbs) });
}

/** COSE_Sign_Tagged with one COSE_Signature per key (body protected header empty unless given). */
export function signSign(
  payload: Uint8Array,
  keys: SigningKey[],
  opts: SignOptions & { detached?: boolean; bodyProtected?: Uint8Array } = {},
): Uint8Array {
  if (keys.length === 0) throw new UpdateError('USAGE', 'COSE_Sign needs at least one signer');
  const bodyProtected = opts.bodyProtected ?? new Uint8Array(0);
  const signatures = keys.map((key) => {
    const a = getAlgorithm(key.alg);
    if (a.kind !== 'signature') throw new UpdateError('USAGE', `${a.name} is a MAC and cannot sign a COSE_Sign`);
    const h = headersFor(key, opts.kid ?? true);
    const tbs = coseSigStructure('Signature', bodyProtected, payload, {
      signProtected: h.protectedBytes,
      ...(opts.externalAad ? { externalAad: opts.externalAad } : {}),
    });
    return { ...h, signature: key.sign(tbs) };
  });
  return encodeSign({ protectedBytes: bodyProtected, payload: opts.detached ? null : payload, signatures });
}

/** The Sig_structure/MAC_structure bytes of one signer of a decoded message. */
export function toBeSigned(
  msg: CoseSign1 | CoseMac0 | CoseSign,
  payload: Uint8Array,
  signer?: CoseSignature,
  externalAad?: Uint8Array,
): Uint8Array {
  const aad = externalAad ? { externalAad } : {};
  switch (msg.kind) {
    case 'sign1':
      return coseSigStructure('Signature1', msg.protectedBytes, payload, aad);
    case 'mac0':
      return coseSigStructure('MAC0', msg.protectedBytes, payload, aad);
    case 'sign':
      if (!signer) throw new UpdateError('USAGE', 'COSE_Sign: which signature?');
      return coseSigStructure('Signature', msg.protectedBytes, payload, { signProtected: signer.protectedBytes, ...aad });
  }
}

/**
 * Verify a COSE_Sign1 whose payload is detached (nil) against `payload` with `key`.
 * Returns false when the signature does not verify; throws for malformed input or a key that
 * cannot verify the message's algorithm.
 */
export function verifySign1Detached(
  cose: Uint8Array | CoseSign1,
  payload: Uint8Array,
  key: TrustedKey,
  opts: { allowedAlgs?: number[]; externalAad?: Uint8Array } = {},
): boolean {
  const m = cose instanceof Uint8Array ? decodeSign1(cose) : cose;
  if (m.payload !== null) throw new UpdateError('COSE_MALFORMED', 'COSE_Sign1 payload is attached; expected detached (nil)');
  if (opts.allowedAlgs && !opts.allowedAlgs.includes(m.alg)) throw new UpdateError('ALGORITHM_UNSUPPORTED', `algorithm ${m.alg} is not allowed by policy`);
  return verifyWithKey(m.alg, key, toBeSigned(m, payload, undefined, opts.externalAad), m.signature);
}

/**
 * Verify a COSE_Sign1 with an attached payload and return the payload.
 * Throws SIGNATURE_INVALID when it does not verify.
 */
export function verifySign1Attached(cose: Uint8Array | CoseSign1, key: TrustedKey, opts: { allowedAlgs?: number[]; maxBytes?: number } = {}): Uint8Array {
  const m = cose instanceof Uint8Array ? decodeSign1(cose, opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}) : cose;
  if (m.payload === null) throw new UpdateError('COSE_MALFORMED', 'COSE_Sign1 has no attached payload');
  if (opts.allowedAlgs && !opts.allowedAlgs.includes(m.alg)) throw new UpdateError('ALGORITHM_UNSUPPORTED', `algorithm ${m.alg} is not allowed by policy`);
  if (m.kid && !kidMatches(key, m.kid)) throw new UpdateError('KEY_UNTRUSTED', `signed by key ${toHex(m.kid)}, not by the expected key ${key.kid}`);
  if (!verifyWithKey(m.alg, key, toBeSigned(m, m.payload), m.signature)) {
    throw new UpdateError('SIGNATURE_INVALID', `COSE_Sign1 signature by ${key.kid} does not verify`, { details: { kid: key.kid } });
  }
  return m.payload;
}

export { decodeSign, decodeSign1, decodeMac0 };
