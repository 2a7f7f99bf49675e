/**
 * Authentication of a SUIT envelope (draft-ietf-suit-manifest-37 §8.3, §6.2): the
 * SUIT_Authentication wrapper holds the encoded SUIT_Digest of the manifest bstr and one or more
 * COSE blocks over it (detached payload = those exact SUIT_Digest bytes, `env.digestBytes`).
 *
 * Verification policy (documented in docs/trust-anchors.md, "Envelope verification"):
 *  1. The manifest digest must match (MANIFEST_DIGEST_MISMATCH) — before any signature work.
 *  2. No blocks → AUTH_MISSING. Every block must be a well-formed tagged COSE_Sign1 / COSE_Sign /
 *     COSE_Mac0 with a detached payload (COSE_MALFORMED otherwise), whoever made it.
 *  3. A signer whose kid names a trusted key MUST verify with that key: if it does not, the whole
 *     envelope is refused with SIGNATURE_INVALID even if other keys would meet the threshold —
 *     a trusted key's block that fails is a tampering signal, not noise.
 *  4. A signer whose kid names no trusted key is ignored (e.g. a block for another verifier).
 *     A signer without kid is tried against each trusted key of the algorithm's key type.
 *  5. Blocks by revoked keys, with unknown or disallowed algorithms, are not counted.
 *  6. At least `threshold` DISTINCT trusted keys must have verified; otherwise the most specific
 *     reason is thrown (KEY_REVOKED, SIGNATURE_INVALID, ALGORITHM_UNSUPPORTED, KEY_UNTRUSTED,
 *     SIGNATURE_THRESHOLD_NOT_MET).
 *  7. Severed members present in the envelope must match their digests (SEVERED_MEMBER_MISMATCH).
 */
import { bytesEqual, toHex } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { checkManifestDigest, checkSeveredMembers, encodeEnvelope } from '../envelope/index.js';
import type { SuitEnvelope } from '../model.js';
import { findAlgorithm } from './algorithms/registry.js';
import type { SigningKey, TrustedKey } from './keys/types.js';
import { coseKidOf, createMac0, kidMatches, signSign1Detached, toBeSigned, verifyWithKey } from './sign.js';
import { coseSigStructure, decodeCoseMessage, encodeProtected, encodeSign1, HEADER, type CoseMessage, type CoseSignature } from './structures.js';

export interface VerifyEnvelopeOptions {
  /** How many distinct trusted keys must have signed (k of n). Default 1. */
  threshold?: number;
  /** COSE algorithm ids accepted; blocks with others are not counted. Default: every registered one. */
  allowedAlgs?: number[];
  /** Key ids (thumbprint hex) that no longer count. */
  revokedKids?: string[];
}

export type BlockStatus = 'verified' | 'untrusted-kid' | 'no-matching-key' | 'revoked' | 'alg-unsupported' | 'alg-not-allowed' | 'duplicate';

export interface VerifyEnvelopeResult {
  /** Key ids (thumbprint hex) of the distinct trusted keys whose signature or MAC verified. */
  signers: string[];
  /** One entry per signer of every block, in order. */
  blocks: { block: number; kind: CoseMessage['kind']; alg: number; kid?: string; status: BlockStatus; key?: string }[];
}

interface SignerView {
  block: number;
  kind: CoseMessage['kind'];
  alg: number;
  kid: Uint8Array | undefined;
  tbs: Uint8Array;
  sig: Uint8Array;
}

function signersOf(msg: CoseMessage, index: number, payload: Uint8Array): SignerView[] {
  if (msg.payload !== null) {
    throw new UpdateError('COSE_MALFORMED', `authentication block ${index}: payload must be detached (nil) in SUIT`, { details: { block: index } });
  }
  if (msg.kind === 'sign') {
    return msg.signatures.map((s: CoseSignature) => ({ block: index, kind: msg.kind, alg: s.alg, kid: s.kid, tbs: toBeSigned(msg, payload, s), sig: s.signature }));
  }
  const sig = msg.kind === 'mac0' ? msg.tag : msg.signature;
  return [{ block: index, kind: msg.kind, alg: msg.alg, kid: msg.kid, tbs: toBeSigned(msg, payload), sig }];
}

/** Verify the envelope's authentication per the policy above. Returns which keys signed. */
export function verifyEnvelope(env: SuitEnvelope, trustedKeys: TrustedKey[], options: VerifyEnvelopeOptions = {}): VerifyEnvelopeResult {
  const threshold = options.threshold ?? 1;
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new UpdateError('USAGE', `threshold must be a positive integer, got ${String(threshold)}`);
  const revoked = new Set(options.revokedKids ?? []);
  const allowed = options.allowedAlgs ? new Set(options.allowedAlgs) : undefined;

  // §6.2: the digest is checked before any signature, so a signature never vouches for other bytes.
  checkManifestDigest(env);
  if (env.authBlocks.length === 0) throw new UpdateError('AUTH_MISSING', 'the envelope carries no signature or MAC');

  const views = env.authBlocks.flatMap((b, i) => signersOf(decodeCoseMessage(b, { requireTag: true, maxBytes: b.length }), i, env.digestBytes));
  const signers = new Set<string>();
  const result: VerifyEnvelopeResult['blocks'] = [];
  for (const v of views) {
    const entry: VerifyEnvelopeResult['blocks'][number] = { block: v.block, kind: v.kind, alg: v.alg, status: 'no-matching-key' };
    if (v.kid) entry.kid = toHex(v.kid);
    result.push(entry);
    const alg = findAlgorithm(v.alg);
    const wantKind = v.kind === 'mac0' ? 'mac' : 'signature';
    if (!alg || alg.kind !== wantKind) {
      entry.status = 'alg-unsupported';
      continue;
    }
    if (allowed && !allowed.has(v.alg)) {
      entry.status = 'alg-not-allowed';
      continue;
    }
    const candidates = v.kid ? trustedKeys.filter((k) => kidMatches(k, v.kid!)) : trustedKeys.filter((k) => k.kty === alg.keyType);
    if (v.kid && candidates.length === 0) {
      entry.status = 'untrusted-kid';
      continue;
    }
    for (const k of candidates) {
      if (v.kid && k.kty !== alg.keyType) {
        throw new UpdateError('SIGNATURE_INVALID', `block ${v.block} names trusted key ${k.kid} but uses algorithm ${alg.name}, which that key cannot make`, {
          details: { block: v.block, kid: k.kid, alg: v.alg },
        });
      }
      if (!verifyWithKey(v.alg, k, v.tbs, v.sig)) continue;
      entry.key = k.kid;
      if (revoked.has(k.kid)) entry.status = 'revoked';
      else if (signers.has(k.kid)) entry.status = 'duplicate';
      else {
        entry.status = 'verified';
        signers.add(k.kid);
      }
      break;
    }
    if (v.kid && entry.status === 'no-matching-key') {
      // Rule 3: a trusted key's kid on a block that does not verify is refused outright.
      throw new UpdateError('SIGNATURE_INVALID', `the ${v.kind === 'mac0' ? 'MAC' : 'signature'} in block ${v.block} by trusted key ${candidates[0]!.kid} does not verify`, {
        details: { block: v.block, kid: candidates[0]!.kid },
      });
    }
  }

  if (signers.size < threshold) {
    const has = (s: BlockStatus): boolean => result.some((r) => r.status === s);
    const summary = `${signers.size} of the required ${threshold} trusted key(s) verified`;
    const details = { verified: signers.size, threshold, blocks: result.map((r) => r.status) };
    if (signers.size === 0) {
      if (has('revoked')) throw new UpdateError('KEY_REVOKED', `the envelope is signed by a revoked key (${summary})`, { details });
      if (has('no-matching-key')) throw new UpdateError('SIGNATURE_INVALID', `no signature or MAC verifies with a trusted key (${summary})`, { details });
      if (has('alg-unsupported') || has('alg-not-allowed')) throw new UpdateError('ALGORITHM_UNSUPPORTED', `the envelope uses an algorithm that is not supported or allowed (${summary})`, { details });
      throw new UpdateError('KEY_UNTRUSTED', `the envelope is signed only by keys that are not trusted (${summary})`, { details });
    }
    throw new UpdateError('SIGNATURE_THRESHOLD_NOT_MET', summary, { details });
  }

  checkSeveredMembers(env);
  return { signers: [...signers], blocks: result };
}

// ---------------------------------------------------------------- signing

function withBlocks(env: SuitEnvelope, authBlocks: Uint8Array[]): SuitEnvelope {
  const next: SuitEnvelope = { ...env, authBlocks, bytes: new Uint8Array(0) };
  next.bytes = encodeEnvelope(next);
  return next;
}

/**
 * Append one authentication block (a tagged COSE_Sign1/Sign/Mac0 with detached payload).
 * Shape only; use `attachSignature` to verify a signature made elsewhere before attaching it.
 */
export function addSignatureBlock(env: SuitEnvelope, block: Uint8Array): SuitEnvelope {
  const msg = decodeCoseMessage(block, { requireTag: true, maxBytes: block.length });
  signersOf(msg, env.authBlocks.length, env.digestBytes); // refuses an attached payload
  if (env.authBlocks.some((b) => bytesEqual(b, block))) return env;
  return withBlocks(env, [...env.authBlocks, new Uint8Array(block)]);
}

/**
 * Sign the envelope with each key: one COSE_Sign1 (COSE_Mac0 for MAC keys) block per key, added
 * after the existing ones (never removes any). The manifest digest is checked first (§8.3: a
 * signer MUST verify the digest before signing).
 */
export function signEnvelope(env: SuitEnvelope, keys: SigningKey[]): SuitEnvelope {
  checkManifestDigest(env);
  if (keys.length === 0) throw new UpdateError('USAGE', 'no signing key given');
  const blocks = [...env.authBlocks];
  for (const key of keys) {
    const kind = findAlgorithm(key.alg)?.kind;
    blocks.push(kind === 'mac' ? createMac0(env.digestBytes, key, { detached: true }) : signSign1Detached(env.digestBytes, key));
  }
  return withBlocks(env, blocks);
}

/**
 * The exact bytes a signer signs for a COSE_Sign1 block over this envelope (Sig_structure
 * "Signature1"): for two-step / air-gapped / HSM signing. With a key, the protected header is
 * `{1: alg, 4: kid}` (what `signEnvelope` writes); with only an algorithm id it is `{1: alg}`.
 * Attach the signature made over these bytes with `attachSignature(env, pub, sig)`.
 */
export function signingInput(env: SuitEnvelope, alg: number | TrustedKey = -9): Uint8Array {
  checkManifestDigest(env);
  return coseSigStructure('Signature1', protectedFor(alg), env.digestBytes);
}

function protectedFor(alg: number | TrustedKey): Uint8Array {
  if (typeof alg === 'number') return encodeProtected(new Map([[HEADER.ALG, alg]]));
  return encodeProtected(
    new Map<number, number | Uint8Array>([
      [HEADER.ALG, alg.alg],
      [HEADER.KID, coseKidOf(alg)],
    ]),
  );
}

/**
 * Attach a raw signature made elsewhere over `signingInput(env, pub)` (or `signingInput(env, alg)`)
 * as a COSE_Sign1 block, after verifying it with `pub` (SIGNATURE_INVALID otherwise). For P-256 the
 * signature is raw r||s (IEEE P1363), 64 bytes.
 */
export function attachSignature(env: SuitEnvelope, pub: TrustedKey, signature: Uint8Array, opts: { alg?: number } = {}): SuitEnvelope {
  const alg = opts.alg ?? pub.alg;
  const a = findAlgorithm(alg);
  if (!a || a.kind !== 'signature') throw new UpdateError('ALGORITHM_UNSUPPORTED', `algorithm ${alg} cannot make a COSE_Sign1 signature`);
  checkManifestDigest(env);
  // Either form of the protected header may have been signed: with the kid (default) or alg only.
  for (const prot of [protectedFor({ ...pub, alg }), protectedFor(alg)]) {
    const tbs = coseSigStructure('Signature1', prot, env.digestBytes);
    if (!verifyWithKey(alg, pub, tbs, signature)) continue;
    const unprotected = new Map<number, Uint8Array>();
    if (prot.length === protectedFor(alg).length) unprotected.set(HEADER.KID, coseKidOf(pub));
    const block = encodeSign1({ protectedBytes: prot, unprotected, payload: null, signature });
    return withBlocks(env, [...env.authBlocks, block]);
  }
  throw new UpdateError('SIGNATURE_INVALID', `the signature does not verify with key ${pub.kid} over this envelope's signing input`, { details: { kid: pub.kid } });
}
