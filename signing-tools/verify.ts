/** `suit-sign verify`: digest, every signature, k-of-n distinct trusted keys, severed members. */
import { UpdateError, macKey, verifyEnvelope, verifyEnvelopeWithAnchors, type TrustedKey } from '../manifest/index.js';
import { readAnchorSet } from './anchors.js';
import { readInput } from './fsutil.js';
import { readEnvelopeFile } from './envelope-file.js';
import { loadTrustedKey } from './keys.js';

export interface VerifyOptions {
  threshold?: number;
  /** Files holding HMAC-256 secrets (COSE_Mac0 authentication): raw bytes, or hex text. */
  macKeyFiles?: string[];
  revokedKids?: string[];
}

export interface VerifyResult {
  signers: string[];
  threshold: number;
  blocks: { block: number; alg: number; kid?: string; status: string }[];
}

export async function verifyEnvelopeFile(file: string, keyFiles: string[], opts: VerifyOptions = {}): Promise<VerifyResult> {
  const macFiles = opts.macKeyFiles ?? [];
  if (keyFiles.length === 0 && macFiles.length === 0) throw new UpdateError('USAGE', 'no --key given: name the public keys you trust');
  const keys: TrustedKey[] = [];
  for (const f of keyFiles) keys.push(await loadTrustedKey(f));
  for (const f of macFiles) keys.push(macKey(await readMacSecret(f)).publicKey());
  return verifyEnvelopeBytesWith(file, keys, opts);
}

export async function verifyEnvelopeBytesWith(file: string, keys: TrustedKey[], opts: VerifyOptions = {}): Promise<VerifyResult> {
  const threshold = opts.threshold ?? 1;
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new UpdateError('USAGE', `--threshold must be a positive integer`);
  if (threshold > new Set(keys.map((k) => k.kid)).size) {
    throw new UpdateError('USAGE', `--threshold ${threshold} is more than the ${keys.length} distinct key(s) given`);
  }
  const { env } = await readEnvelopeFile(file);
  try {
    const r = verifyEnvelope(env, keys, { threshold, ...(opts.revokedKids ? { revokedKids: opts.revokedKids } : {}) });
    return {
      signers: r.signers,
      threshold,
      blocks: r.blocks.map((b) => ({ block: b.block, alg: b.alg, ...(b.kid !== undefined ? { kid: b.kid } : {}), status: b.status })),
    };
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e, ...(e.details ? { details: e.details } : {}) });
    throw e;
  }
}

/** A MAC secret file: the raw secret bytes; a `.hex` file holds them as hex text. */
export async function readMacSecret(file: string): Promise<Uint8Array> {
  const raw = await readInput(file, 'MAC key file', 4096);
  let secret = raw;
  if (file.toLowerCase().endsWith('.hex')) {
    const text = Buffer.from(raw).toString('latin1').replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new UpdateError('KEY_MALFORMED', `MAC key ${file} is not hex`);
    secret = new Uint8Array(Buffer.from(text, 'hex'));
  }
  if (secret.length < 16) throw new UpdateError('KEY_MALFORMED', `MAC key ${file} is shorter than 16 bytes`);
  return secret;
}

/** Verify with a trust-anchor set: its firmware keys, firmware threshold and revocations. */
export async function verifyWithAnchorsFile(file: string, anchorsFile: string): Promise<{ signers: string[]; threshold: number; version: number }> {
  const set = await readAnchorSet(anchorsFile);
  const { env } = await readEnvelopeFile(file);
  try {
    const r = verifyEnvelopeWithAnchors(env, set);
    return { signers: r.signers, threshold: set.threshold, version: set.version };
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e, ...(e.details ? { details: e.details } : {}) });
    throw e;
  }
}
