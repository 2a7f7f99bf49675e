/**
 * SUIT_Envelope codec (draft-ietf-suit-manifest-37 §8, Appendix A; trust-domains for integrated
 * dependencies and the severable members 15 and 18; update-management for 14).
 *
 *   SUIT_Envelope_Tagged = #6.107(SUIT_Envelope)          (untagged maps accepted: TEEP, libcsuit)
 *   SUIT_Envelope = { 2 => bstr .cbor SUIT_Authentication, 3 => bstr .cbor SUIT_Manifest,
 *                     ? 14/15/16/18/20/23 => bstr (severed member), * tstr => bstr (integrated payload) }
 *
 * Order of checks: size limit → strict CBOR decode → shape (this file). No signature work happens
 * here; `checkManifestDigest` / `checkSeveredMembers` are the integrity steps that verifyEnvelope
 * (manifest/cose) runs, over the bytes received, never over a re-encoding.
 *
 * Envelope extension policy: the envelope accepts no integer keys besides 2, 3 and the severable
 * members. Key 1 (delegation) is reserved without a structure in -37, so it is refused too; anything
 * else → ENVELOPE_MALFORMED. (An unknown member would be outside every digest and signature.)
 */
import { decodeCbor, encodeCbor, RawCbor, spanOf, Tagged, toHex, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { ENV, MAN, SEVERABLE_MEMBERS, TAG_COSE_MAC, TAG_COSE_MAC0, TAG_COSE_SIGN, TAG_COSE_SIGN1, TAG_ENVELOPE, TAG_MANIFEST } from '../keys.js';
import type { CommandSequence, Severable, SuitDigest, SuitEnvelope, SuitManifest, SuitText } from '../model.js';
import { computeDigest, digestAlgName, digestEquals, digestFromCbor, encodeDigest } from './digest.js';
import { DEFAULT_LIMITS, type EnvelopeLimits } from './limits.js';
import { decodeManifest, decodeSeveredContent, manifestFromCbor, rethrowAt, type DecodeManifestOptions } from './manifest.js';
import { envelopeMemberName, manifestMemberName } from './names.js';

export interface DecodeEnvelopeOptions extends DecodeManifestOptions {
  /** Refuse larger input before decoding anything. Default 65536. */
  maxBytes?: number;
  /** Accept an envelope map without tag 107 (TEEP, libcsuit). Default true. */
  allowUntagged?: boolean;
  /**
   * Accept a bare SUIT_Manifest_Tagged (#6.1070) with no authentication wrapper. Default false.
   * The result has no auth blocks and a locally computed SHA-256 digest, so verifyEnvelope will refuse
   * it (AUTH_MISSING): only for contexts where authenticity comes from elsewhere.
   */
  allowBareManifest?: boolean;
}

/** The parts `encodeEnvelope` needs; a decoded or built `SuitEnvelope` has them all. */
export interface EnvelopeParts {
  tagged?: boolean;
  /** Content of the first bstr of SUIT_Authentication (encoded SUIT_Digest), kept as received. */
  digestBytes: Uint8Array;
  authBlocks: Uint8Array[];
  /** The encoded bstr at key 3 including its header. */
  manifestBstr: Uint8Array;
  /** key → encoded bstr including header. */
  severed?: Map<number, Uint8Array>;
  integrated?: Map<string, Uint8Array>;
}

const AUTH_TAGS = new Set([TAG_COSE_SIGN1, TAG_COSE_SIGN, TAG_COSE_MAC0, TAG_COSE_MAC]);
const SEVERABLE: ReadonlySet<number> = new Set(SEVERABLE_MEMBERS);

function envBad(what: string, details: Record<string, unknown> = {}): UpdateError {
  return new UpdateError('ENVELOPE_MALFORMED', `envelope: ${what}`, { details });
}

/** Strict decode of a nested `bstr .cbor` at envelope level. */
function innerCbor(bytes: Uint8Array, path: string, limits: EnvelopeLimits, deterministic: boolean): CborValue {
  try {
    return decodeCbor(bytes, { maxBytes: Infinity, maxDepth: limits.maxCborDepth, requireDeterministic: deterministic });
  } catch (e) {
    throw rethrowAt(e, path);
  }
}

/** The manifest member (in the manifest) that corresponds to envelope severable key `key`. */
function manifestMember(m: SuitManifest, key: number): Severable<CommandSequence | SuitText | Uint8Array> | undefined {
  switch (key) {
    case MAN.COSWID:
      return m.coswid;
    case MAN.DEPENDENCY_RESOLUTION:
      return m.dependencyResolution;
    case MAN.PAYLOAD_FETCH:
      return m.payloadFetch;
    case MAN.CANDIDATE_VERIFICATION:
      return m.candidateVerification;
    case MAN.INSTALL:
      return m.install;
    case MAN.TEXT:
      return m.text;
    default:
      return undefined;
  }
}

/** Decode a SUIT envelope from untrusted bytes: limit → strict CBOR → shape. */
export function decodeEnvelope(bytes: Uint8Array, opts: DecodeEnvelopeOptions = {}): SuitEnvelope {
  if (!(bytes instanceof Uint8Array)) throw envBad('input is not a byte array');
  const limits: EnvelopeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const maxBytes = opts.maxBytes ?? limits.maxEnvelopeBytes;
  const deterministic = opts.requireDeterministic ?? true;
  // Limit first: nothing is decoded from an oversized input.
  const top = decodeCbor(bytes, { maxBytes, maxDepth: limits.maxCborDepth, requireDeterministic: deterministic });

  let tagged = false;
  let map: CborValue = top;
  if (top instanceof Tagged) {
    if (top.tag === TAG_MANIFEST) {
      if (!opts.allowBareManifest) throw envBad('a bare SUIT_Manifest (tag 1070) is not accepted here; an envelope (tag 107) is required', { tag: 1070 });
      return bareManifestEnvelope(top, bytes, opts);
    }
    if (top.tag !== TAG_ENVELOPE) throw envBad(`unexpected CBOR tag ${top.tag}; a SUIT envelope has tag 107`, { tag: top.tag });
    tagged = true;
    map = top.value;
  } else if (opts.allowUntagged === false) {
    throw envBad('untagged envelope refused (tag 107 required)');
  }
  if (!(map instanceof Map)) throw envBad('the envelope must be a map');

  let digest: SuitDigest | undefined;
  let digestBytes: Uint8Array | undefined;
  let authBlocks: Uint8Array[] | undefined;
  let manifestBstr: Uint8Array | undefined;
  let manifestContent: Uint8Array | undefined;
  const severed = new Map<number, Uint8Array>();
  const integrated = new Map<string, Uint8Array>();
  let sawManifest = false;

  for (const [k, v] of map) {
    if (typeof k === 'string') {
      // Integrated payload or dependency: tstr => bstr.
      if (!(v instanceof Uint8Array)) throw envBad(`integrated payload "${k}" must be a byte string`, { key: k });
      if (integrated.size >= limits.maxIntegrated) {
        throw new UpdateError('PROCESSOR_LIMIT', `envelope: more than ${limits.maxIntegrated} integrated payloads`, { details: { limit: limits.maxIntegrated } });
      }
      integrated.set(k, v);
      continue;
    }
    if (typeof k !== 'number') throw envBad(`member key ${String(k)} is neither an integer nor a text string`);
    if (!(v instanceof Uint8Array)) throw envBad(`member ${k} (${envelopeMemberName(k)}) must be a byte string`, { key: k });
    if (k === ENV.AUTHENTICATION_WRAPPER) {
      // draft §8: the authentication wrapper MUST come before the manifest.
      if (sawManifest) throw envBad('the authentication wrapper must precede the manifest');
      ({ digest, digestBytes, authBlocks } = decodeAuthWrapper(v, limits, deterministic));
    } else if (k === ENV.MANIFEST) {
      sawManifest = true;
      manifestContent = v;
      manifestBstr = spanOf(v)!;
    } else if (SEVERABLE.has(k)) {
      severed.set(k, spanOf(v)!);
    } else {
      throw envBad(`unknown member ${k}${k === ENV.DELEGATION ? ' (delegation is reserved in draft -37)' : ''}`, { key: k });
    }
  }
  if (!digest || !digestBytes || !authBlocks) throw envBad('authentication wrapper (2) is missing');
  if (!manifestContent || !manifestBstr) throw envBad('manifest (3) is missing');

  const manifest = decodeManifest(manifestContent, { ...opts, limits: { ...opts.limits, maxEnvelopeBytes: maxBytes } });

  // Shape of each severed member, and a matching digest slot in the manifest (the digest itself is
  // checked by checkSeveredMembers, after the signature).
  for (const [k, b] of severed) {
    const member = manifestMember(manifest, k);
    if (!member) throw envBad(`severed member ${k} (${manifestMemberName(k)}) is not referenced by the manifest`, { key: k });
    if (!('severed' in member)) throw envBad(`member ${k} (${manifestMemberName(k)}) is both in the manifest and severed in the envelope`, { key: k });
    decodeSeveredContent(k, contentOf(b), opts);
  }

  return { tagged, digest, digestBytes, authBlocks, manifest, manifestBstr, severed, integrated, bytes };
}

/** Content of an encoded bstr (strip the header). */
function contentOf(encodedBstr: Uint8Array): Uint8Array {
  const v = decodeCbor(encodedBstr, { maxBytes: Infinity });
  if (!(v instanceof Uint8Array)) throw new UpdateError('ENVELOPE_MALFORMED', 'severed member is not a byte string');
  return v;
}

function decodeAuthWrapper(content: Uint8Array, limits: EnvelopeLimits, deterministic: boolean): { digest: SuitDigest; digestBytes: Uint8Array; authBlocks: Uint8Array[] } {
  const path = 'envelope.authentication-wrapper';
  // SUIT_Authentication = [ bstr .cbor SUIT_Digest, * bstr .cbor SUIT_Authentication_Block ]
  const w = innerCbor(content, path, limits, deterministic);
  if (!Array.isArray(w) || w.length === 0) throw envBad('authentication wrapper must be [bstr digest, * bstr auth-block]');
  if (w.length - 1 > limits.maxAuthBlocks) {
    throw new UpdateError('PROCESSOR_LIMIT', `envelope: more than ${limits.maxAuthBlocks} authentication blocks`, { details: { limit: limits.maxAuthBlocks } });
  }
  const [first, ...rest] = w;
  if (!(first instanceof Uint8Array)) throw envBad('authentication wrapper[0] must be a bstr-wrapped SUIT_Digest');
  const digest = digestFromCbor(innerCbor(first, `${path}[0]`, limits, deterministic), `${path}[0]`, 'ENVELOPE_MALFORMED');
  const authBlocks = rest.map((b, i) => {
    const p = `${path}[${i + 1}]`;
    if (!(b instanceof Uint8Array)) throw envBad(`${p}: authentication block must be a byte string`);
    // Only the outer shape here (a tagged COSE_Sign1/Sign/Mac0/Mac); COSE structure is manifest/cose's.
    const t = innerCbor(b, p, limits, false);
    if (!(t instanceof Tagged) || !AUTH_TAGS.has(t.tag) || !Array.isArray(t.value)) {
      throw envBad(`${p}: authentication block must be a tagged COSE_Sign1 (18), COSE_Sign (98), COSE_Mac0 (17) or COSE_Mac (97)`);
    }
    return b;
  });
  return { digest, digestBytes: first, authBlocks };
}

function bareManifestEnvelope(top: Tagged, bytes: Uint8Array, opts: DecodeEnvelopeOptions): SuitEnvelope {
  const mapBytes = spanOf(top.value);
  if (!mapBytes) throw new UpdateError('MANIFEST_MALFORMED', 'manifest (tag 1070) must be a map');
  const manifest = manifestFromCbor(top.value, mapBytes, opts);
  const manifestBstr = encodeCbor(mapBytes);
  const digest = computeDigest(-16, manifestBstr);
  return {
    tagged: false,
    digest,
    digestBytes: encodeDigest(digest),
    authBlocks: [],
    manifest,
    manifestBstr,
    severed: new Map(),
    integrated: new Map(),
    bytes,
  };
}

/** Deterministic encoding; auth wrapper before manifest; received bytes kept (RawCbor). */
export function encodeEnvelope(env: SuitEnvelope | EnvelopeParts): Uint8Array {
  const m = new Map<CborKey, CborValue>();
  const wrapper: CborValue[] = [env.digestBytes, ...env.authBlocks];
  m.set(ENV.AUTHENTICATION_WRAPPER, encodeCbor(wrapper));
  m.set(ENV.MANIFEST, new RawCbor(env.manifestBstr));
  for (const [k, b] of env.severed ?? []) {
    if (!SEVERABLE.has(k)) throw envBad(`${k} is not a severable member`);
    m.set(k, new RawCbor(b));
  }
  for (const [k, b] of env.integrated ?? []) m.set(k, b);
  const tagged = env.tagged ?? true;
  return encodeCbor(tagged ? new Tagged(TAG_ENVELOPE, m) : m);
}

export interface BuildEnvelopeOptions {
  /** The encoded SUIT_Manifest (content of key 3), e.g. from encodeManifest or buildManifest. */
  manifest: Uint8Array;
  /** Severed members: key → the member's encoded content (SUIT_Command_Sequence / SUIT_Text_Map / CoSWID bytes, NOT bstr-wrapped). */
  severed?: Map<number, Uint8Array>;
  /** Integrated payloads: text key (e.g. "#firmware") → bytes. */
  integrated?: Map<string, Uint8Array>;
  /** Digest algorithm of the authentication wrapper. Default -16 (SHA-256). */
  digestAlg?: number;
  /** Default true (tag 107). */
  tagged?: boolean;
}

/**
 * A fresh unsigned envelope: manifest digest computed, no auth blocks, `bytes` empty until encoded.
 * Every severed member must match the digest the manifest holds for it (SEVERED_MEMBER_MISMATCH).
 */
export function buildEnvelope(o: BuildEnvelopeOptions): SuitEnvelope {
  const manifest = decodeManifest(o.manifest);
  const manifestBstr = encodeCbor(o.manifest);
  const digest = computeDigest(o.digestAlg ?? -16, manifestBstr);
  const severed = new Map<number, Uint8Array>();
  for (const [k, content] of o.severed ?? []) {
    if (!SEVERABLE.has(k)) throw new UpdateError('USAGE', `member ${k} cannot be severed`);
    severed.set(k, encodeCbor(content));
  }
  const env: SuitEnvelope = {
    tagged: o.tagged ?? true,
    digest,
    digestBytes: encodeDigest(digest),
    authBlocks: [],
    manifest,
    manifestBstr,
    severed,
    integrated: new Map(o.integrated ?? []),
    bytes: new Uint8Array(0),
  };
  for (const k of severed.keys()) {
    const member = manifestMember(manifest, k);
    if (!member || !('severed' in member)) throw new UpdateError('USAGE', `severed member ${k} given but the manifest does not hold its digest`);
    decodeSeveredContent(k, contentOf(severed.get(k)!));
  }
  checkSeveredMembers(env);
  return env;
}

/** The manifest digest (SUIT_Authentication[0]) covers the encoded bstr at key 3, header included (draft §8.3). */
export function checkManifestDigest(env: Pick<SuitEnvelope, 'digest' | 'manifestBstr'>): void {
  const actual = computeDigest(env.digest.alg, env.manifestBstr);
  if (!digestEquals(actual, env.digest)) {
    throw new UpdateError('MANIFEST_DIGEST_MISMATCH', `the manifest does not match its ${digestAlgName(env.digest.alg)} digest in the authentication wrapper`, {
      details: { expected: toHex(env.digest.bytes), actual: toHex(actual.bytes) },
    });
  }
}

/** Each severed member in the envelope must match the digest the manifest keeps for it (draft §8.4.x severable members). */
export function checkSeveredMembers(env: Pick<SuitEnvelope, 'manifest' | 'severed'>): void {
  for (const [k, b] of env.severed) {
    const member = manifestMember(env.manifest, k);
    if (!member || !('severed' in member)) {
      throw new UpdateError('SEVERED_MEMBER_MISMATCH', `envelope member ${k} (${manifestMemberName(k)}) has no digest in the manifest`, { details: { key: k } });
    }
    const actual = computeDigest(member.severed.alg, b);
    if (!digestEquals(actual, member.severed)) {
      throw new UpdateError('SEVERED_MEMBER_MISMATCH', `severed ${manifestMemberName(k)} (${k}) does not match its digest in the manifest`, {
        details: { key: k, expected: toHex(member.severed.bytes), actual: toHex(actual.bytes) },
      });
    }
  }
}

/** getSevered results by key. */
export interface SeveredTypes {
  14: Uint8Array;
  15: CommandSequence;
  16: CommandSequence;
  18: CommandSequence;
  20: CommandSequence;
  23: SuitText;
}

/**
 * A severable member: the one inside the manifest, or the severed copy from the envelope after its
 * digest checks out. `undefined` when the manifest has no such member at all; SEVERED_MEMBER_MISSING
 * when it is severed and the envelope does not carry it; SEVERED_MEMBER_MISMATCH when the copy is wrong.
 */
export function getSevered<K extends keyof SeveredTypes>(env: Pick<SuitEnvelope, 'manifest' | 'severed'>, key: K): SeveredTypes[K] | undefined {
  const member = manifestMember(env.manifest, key);
  if (!member) return undefined;
  if ('present' in member) return member.present as SeveredTypes[K];
  const b = env.severed.get(key);
  if (!b) {
    throw new UpdateError('SEVERED_MEMBER_MISSING', `${manifestMemberName(key)} (${key}) is severed and the envelope does not carry it`, { details: { key } });
  }
  const actual = computeDigest(member.severed.alg, b);
  if (!digestEquals(actual, member.severed)) {
    throw new UpdateError('SEVERED_MEMBER_MISMATCH', `severed ${manifestMemberName(key)} (${key}) does not match its digest in the manifest`, { details: { key } });
  }
  return decodeSeveredContent(key, contentOf(b)) as SeveredTypes[K];
}
