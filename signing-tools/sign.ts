/**
 * `suit-sign sign`: add one COSE_Sign1 block per key. The envelope's own manifest digest is checked
 * first (draft-ietf-suit-manifest-37 §8.3: a signer MUST verify the digest before signing), existing
 * blocks are kept byte for byte, and a key that already signed is not asked again (for an HSS-LMS
 * key that would burn a one-time signature for nothing).
 */
import {
  UpdateError,
  checkManifestDigest,
  encodeEnvelope,
  signEnvelope,
  verifyEnvelope,
  type SuitEnvelope,
} from '../manifest/index.js';
import { readEnvelopeFile, writeEnvelopeFile } from './envelope-file.js';
import { refuseExisting } from './fsutil.js';
import { loadSigningKey, prepareKey, type LoadedSigningKey } from './keys.js';

export interface SignResult {
  envelope: Uint8Array;
  added: { kid: string; alg: number; file?: string; signaturesRemaining?: number }[];
  skipped: { kid: string; file?: string; reason: string }[];
  blocks: number;
}

function alreadySigned(env: SuitEnvelope, k: LoadedSigningKey): boolean {
  if (env.authBlocks.length === 0) return false;
  try {
    return verifyEnvelope(env, [k.key.publicKey()], { threshold: 1 }).signers.includes(k.key.kid);
  } catch {
    return false;
  }
}

/** Sign an envelope already in memory with loaded keys (HSS-LMS keys reserve their index first). */
export async function signEnvelopeWith(env: SuitEnvelope, keys: LoadedSigningKey[]): Promise<SignResult> {
  checkManifestDigest(env);
  const seen = new Set<string>();
  const todo: LoadedSigningKey[] = [];
  const skipped: SignResult['skipped'] = [];
  for (const k of keys) {
    if (seen.has(k.key.kid)) throw new UpdateError('USAGE', `key ${k.file} (kid ${k.key.kid}) is given twice`);
    seen.add(k.key.kid);
    if (alreadySigned(env, k)) skipped.push({ kid: k.key.kid, file: k.file, reason: 'already signed this envelope' });
    else todo.push(k);
  }
  const added: SignResult['added'] = [];
  let out = env;
  for (const k of todo) {
    // One key at a time: a stateful key's index is persisted (prepareKey) right before its signature is made.
    const r = await prepareKey(k.key);
    out = signEnvelope(out, [k.key]);
    added.push({ kid: k.key.kid, alg: k.key.alg, file: k.file, ...(r ? { signaturesRemaining: r.remaining } : {}) });
  }
  const envelope = encodeEnvelope(out);
  return { envelope, added, skipped, blocks: out.authBlocks.length };
}

export interface SignFileOptions {
  passphrase?: string;
  /** Sign with ES256 (-7) / EdDSA (-8), the ids before RFC 9864 (same keys and signatures). */
  legacyAlgIds?: boolean;
  force?: boolean;
}

/** `sign IN --key K… -o OUT` as a library call. */
export async function signEnvelopeFile(input: string, keyFiles: string[], output: string, opts: SignFileOptions = {}): Promise<SignResult> {
  if (keyFiles.length === 0) throw new UpdateError('USAGE', 'no --key given');
  const { env } = await readEnvelopeFile(input);
  try {
    checkManifestDigest(env);
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${input}: ${e.message}; refusing to sign`, { cause: e });
    throw e;
  }
  const keys: LoadedSigningKey[] = [];
  for (const f of keyFiles) {
    keys.push(await loadSigningKey(f, { ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}), legacyAlgIds: opts.legacyAlgIds ?? false }));
  }
  // Refuse an existing output before any signature is made (an HSS-LMS index would be spent for nothing).
  if (input !== output) await refuseExisting([output], opts.force ?? false);
  const r = await signEnvelopeWith(env, keys);
  await writeEnvelopeFile(output, r.envelope, opts.force === true || input === output);
  return r;
}
