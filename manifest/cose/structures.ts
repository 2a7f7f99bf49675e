/**
 * COSE (RFC 9052) message structures used by SUIT: COSE_Sign1, COSE_Sign and COSE_Mac0, with
 * detached or attached payloads.
 *
 * Decoding is strict (every failure is COSE_MALFORMED, or a CBOR_* code for bytes that are not
 * CBOR): exact array lengths, protected header as a bstr that decodes to a map (or is empty), no
 * label in both buckets (§3), `alg` (1) required and only in the protected bucket (SUIT_COSE_Profile
 * puts it there; an unprotected alg could be swapped), `kid` (4) a bstr, and `crit` (2) refused
 * because we understand no extension headers. Protected header bytes are kept exactly as received:
 * Sig_structure / MAC_structure are built over those bytes, never a re-encoding (§4.4).
 */
import { decodeCbor, encodeCbor, Tagged, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { TAG_COSE_MAC, TAG_COSE_MAC0, TAG_COSE_SIGN, TAG_COSE_SIGN1 } from '../keys.js';

export const HEADER = { ALG: 1, CRIT: 2, CONTENT_TYPE: 3, KID: 4, IV: 5 } as const;

export type HeaderMap = Map<CborKey, CborValue>;

/** One set of headers: protected (exact bytes + decoded) and unprotected. */
export interface CoseHeaders {
  protectedBytes: Uint8Array;
  protected: HeaderMap;
  unprotected: HeaderMap;
  /** From the protected bucket. */
  alg: number;
  /** From the unprotected bucket, else the protected one. */
  kid?: Uint8Array;
}

export interface CoseSign1 extends CoseHeaders {
  kind: 'sign1';
  payload: Uint8Array | null;
  signature: Uint8Array;
}

export interface CoseSignature extends CoseHeaders {
  signature: Uint8Array;
}

export interface CoseSign {
  kind: 'sign';
  protectedBytes: Uint8Array;
  protected: HeaderMap;
  unprotected: HeaderMap;
  payload: Uint8Array | null;
  signatures: CoseSignature[];
}

export interface CoseMac0 extends CoseHeaders {
  kind: 'mac0';
  payload: Uint8Array | null;
  tag: Uint8Array;
}

export type CoseMessage = CoseSign1 | CoseSign | CoseMac0;

export interface CoseDecodeOptions {
  /** Require the COSE tag (SUIT auth blocks are always tagged). Default false: accept both. */
  requireTag?: boolean;
  /** Size limit before decoding. Default 64 KiB. */
  maxBytes?: number;
}

function malformed(msg: string): UpdateError {
  return new UpdateError('COSE_MALFORMED', msg);
}

function decodeProtected(v: CborValue, where: string): { bytes: Uint8Array; map: HeaderMap } {
  if (!(v instanceof Uint8Array)) throw malformed(`${where}: protected header is not a byte string`);
  if (v.length === 0) return { bytes: v, map: new Map() };
  let m: CborValue;
  try {
    m = decodeCbor(v, { maxBytes: v.length, maxDepth: 8 });
  } catch (e) {
    throw new UpdateError('COSE_MALFORMED', `${where}: protected header is not CBOR`, { cause: e });
  }
  if (!(m instanceof Map)) throw malformed(`${where}: protected header is not a map`);
  return { bytes: v, map: m };
}

/**
 * Check the two buckets and extract alg/kid. `needAlg` is false only for the body of a COSE_Sign,
 * whose algorithms live in each COSE_Signature.
 */
function headers(protV: CborValue, unprotV: CborValue, where: string, needAlg: boolean): Omit<CoseHeaders, 'alg'> & { alg?: number } {
  const p = decodeProtected(protV, where);
  if (!(unprotV instanceof Map)) throw malformed(`${where}: unprotected header is not a map`);
  for (const k of p.map.keys()) if (unprotV.has(k)) throw malformed(`${where}: header label ${String(k)} is in both buckets`);
  if (p.map.has(HEADER.CRIT) || unprotV.has(HEADER.CRIT)) throw malformed(`${where}: critical headers are not supported`);
  if (unprotV.has(HEADER.ALG)) throw malformed(`${where}: alg must be in the protected header`);
  const alg = p.map.get(HEADER.ALG);
  if (alg !== undefined && (typeof alg !== 'number' || !Number.isSafeInteger(alg))) throw malformed(`${where}: alg is not an integer`);
  if (needAlg && alg === undefined) throw malformed(`${where}: no alg in the protected header`);
  const kid = unprotV.get(HEADER.KID) ?? p.map.get(HEADER.KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw malformed(`${where}: kid is not a byte string`);
  const out: Omit<CoseHeaders, 'alg'> & { alg?: number } = { protectedBytes: p.bytes, protected: p.map, unprotected: unprotV };
  if (alg !== undefined) out.alg = alg as number;
  if (kid !== undefined) out.kid = kid as Uint8Array;
  return out;
}

function payloadOf(v: CborValue, where: string): Uint8Array | null {
  if (v === null) return null;
  if (v instanceof Uint8Array) return v;
  throw malformed(`${where}: payload is neither a byte string nor nil`);
}

function unwrap(v: CborValue, tag: number, name: string, opts: CoseDecodeOptions): CborValue[] {
  let inner = v;
  if (v instanceof Tagged) {
    if (v.tag !== tag) throw malformed(`expected ${name} (tag ${tag}), got tag ${v.tag}`);
    inner = v.value;
  } else if (opts.requireTag) {
    throw malformed(`${name} must be tagged (${tag})`);
  }
  if (!Array.isArray(inner)) throw malformed(`${name} is not an array`);
  return inner;
}

function parse(bytes: Uint8Array | CborValue, opts: CoseDecodeOptions): CborValue {
  return bytes instanceof Uint8Array ? decodeCbor(bytes, { maxBytes: opts.maxBytes ?? 64 * 1024, maxDepth: 16 }) : bytes;
}

export function decodeSign1(bytes: Uint8Array | CborValue, opts: CoseDecodeOptions = {}): CoseSign1 {
  const a = unwrap(parse(bytes, opts), TAG_COSE_SIGN1, 'COSE_Sign1', opts);
  if (a.length !== 4) throw malformed(`COSE_Sign1 has ${a.length} elements, not 4`);
  const h = headers(a[0], a[1], 'COSE_Sign1', true);
  if (!(a[3] instanceof Uint8Array)) throw malformed('COSE_Sign1: signature is not a byte string');
  return { kind: 'sign1', ...h, alg: h.alg!, payload: payloadOf(a[2], 'COSE_Sign1'), signature: a[3] };
}

export function decodeSign(bytes: Uint8Array | CborValue, opts: CoseDecodeOptions = {}): CoseSign {
  const a = unwrap(parse(bytes, opts), TAG_COSE_SIGN, 'COSE_Sign', opts);
  if (a.length !== 4) throw malformed(`COSE_Sign has ${a.length} elements, not 4`);
  const h = headers(a[0], a[1], 'COSE_Sign', false);
  const sigs = a[3];
  if (!Array.isArray(sigs) || sigs.length === 0) throw malformed('COSE_Sign: signatures is not a non-empty array');
  const signatures = sigs.map((s, i): CoseSignature => {
    const where = `COSE_Sign signature ${i}`;
    if (!Array.isArray(s) || s.length !== 3) throw malformed(`${where} is not a 3-element array`);
    const sh = headers(s[0], s[1], where, true);
    if (!(s[2] instanceof Uint8Array)) throw malformed(`${where}: signature is not a byte string`);
    return { ...sh, alg: sh.alg!, signature: s[2] };
  });
  return { kind: 'sign', protectedBytes: h.protectedBytes, protected: h.protected, unprotected: h.unprotected, payload: payloadOf(a[2], 'COSE_Sign'), signatures };
}

export function decodeMac0(bytes: Uint8Array | CborValue, opts: CoseDecodeOptions = {}): CoseMac0 {
  const a = unwrap(parse(bytes, opts), TAG_COSE_MAC0, 'COSE_Mac0', opts);
  if (a.length !== 4) throw malformed(`COSE_Mac0 has ${a.length} elements, not 4`);
  const h = headers(a[0], a[1], 'COSE_Mac0', true);
  if (!(a[3] instanceof Uint8Array)) throw malformed('COSE_Mac0: tag is not a byte string');
  return { kind: 'mac0', ...h, alg: h.alg!, payload: payloadOf(a[2], 'COSE_Mac0'), tag: a[3] };
}

/** A tagged SUIT authentication block: COSE_Sign1 (18), COSE_Sign (98) or COSE_Mac0 (17). */
export function decodeCoseMessage(bytes: Uint8Array, opts: CoseDecodeOptions = {}): CoseMessage {
  const v = parse(bytes, opts);
  if (!(v instanceof Tagged)) throw malformed('authentication block is not a tagged COSE message');
  switch (v.tag) {
    case TAG_COSE_SIGN1:
      return decodeSign1(v, opts);
    case TAG_COSE_SIGN:
      return decodeSign(v, opts);
    case TAG_COSE_MAC0:
      return decodeMac0(v, opts);
    case TAG_COSE_MAC:
      throw new UpdateError('ALGORITHM_UNSUPPORTED', 'COSE_Mac (tag 97, MAC with recipients) is not supported; use COSE_Mac0');
    default:
      throw malformed(`tag ${v.tag} is not a COSE signature or MAC message`);
  }
}

// ---------------------------------------------------------------- encoding

export interface HeaderInput {
  /** Exact protected bytes; or build them from `protectedMap`. */
  protectedBytes?: Uint8Array;
  protectedMap?: HeaderMap;
  unprotected?: HeaderMap;
}

export function encodeProtected(map: HeaderMap): Uint8Array {
  return map.size === 0 ? new Uint8Array(0) : encodeCbor(map);
}

function prot(h: HeaderInput): Uint8Array {
  return h.protectedBytes ?? encodeProtected(h.protectedMap ?? new Map());
}

export function encodeSign1(m: HeaderInput & { payload: Uint8Array | null; signature: Uint8Array }, tagged = true): Uint8Array {
  const arr: CborValue[] = [prot(m), m.unprotected ?? new Map(), m.payload, m.signature];
  return encodeCbor(tagged ? new Tagged(TAG_COSE_SIGN1, arr) : arr);
}

export function encodeSign(
  m: HeaderInput & { payload: Uint8Array | null; signatures: (HeaderInput & { signature: Uint8Array })[] },
  tagged = true,
): Uint8Array {
  const sigs: CborValue[] = m.signatures.map((s) => [prot(s), s.unprotected ?? new Map(), s.signature]);
  const arr: CborValue[] = [prot(m), m.unprotected ?? new Map(), m.payload, sigs];
  return encodeCbor(tagged ? new Tagged(TAG_COSE_SIGN, arr) : arr);
}

export function encodeMac0(m: HeaderInput & { payload: Uint8Array | null; tag: Uint8Array }, tagged = true): Uint8Array {
  const arr: CborValue[] = [prot(m), m.unprotected ?? new Map(), m.payload, m.tag];
  return encodeCbor(tagged ? new Tagged(TAG_COSE_MAC0, arr) : arr);
}

/**
 * The bytes that are signed or MACed (RFC 9052 §4.4 Sig_structure, §6.3 MAC_structure):
 *  "Signature1": [ctx, body_protected, external_aad, payload]
 *  "Signature":  [ctx, body_protected, sign_protected, external_aad, payload]
 *  "MAC0":       [ctx, protected, external_aad, payload]
 */
export function coseSigStructure(
  context: 'Signature1' | 'Signature' | 'MAC0',
  bodyProtected: Uint8Array,
  payload: Uint8Array,
  opts: { signProtected?: Uint8Array; externalAad?: Uint8Array } = {},
): Uint8Array {
  const aad = opts.externalAad ?? new Uint8Array(0);
  if (context === 'Signature') {
    if (!opts.signProtected) throw new UpdateError('USAGE', 'Sig_structure "Signature" needs the signer\'s protected header');
    return encodeCbor([context, bodyProtected, opts.signProtected, aad, payload]);
  }
  return encodeCbor([context, bodyProtected, aad, payload]);
}
