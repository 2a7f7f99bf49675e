/**
 * Loading keys for signing and verifying. Private key bytes never leave the `SigningKey` objects
 * of manifest/cose; messages here name files, key ids and algorithms only.
 *
 * Stateful HSS-LMS keys are wrapped so that every signature first reserves a one-time index in the
 * key's state file (lms-state.ts) and only then signs with it.
 */
import * as path from 'node:path';
import {
  UpdateError,
  parsePrivateKey,
  parsePublicKey,
  COSE_ALG,
  type SigningKey,
  type TrustedKey,
} from '../manifest/index.js';
import { readInput } from './fsutil.js';
import { reserveLmsIndex, loadLmsState } from './lms-state.js';
import { lmsSignAt, isStatefulKey, lmsPrepareIndex, lmsExportTreeCache } from './lms-signer.js';
import { attachTreeCache, treeCachePathFor, writeTreeCache } from './lms-cache.js';

/** `KEY.pem` → `KEY.state`; `KEY` → `KEY.state`. */
export function statePathForKey(keyFile: string): string {
  return keyFile.replace(/\.pem$/i, '') + '.state';
}

export async function readPassphraseFile(file: string): Promise<string> {
  const bytes = await readInput(file, 'passphrase file', 64 * 1024);
  // One trailing newline is the usual way such files are written; it is not part of the passphrase.
  const text = Buffer.from(bytes).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new UpdateError('USAGE', `passphrase file ${file} is empty`);
  return text;
}

export interface LoadedSigningKey {
  key: SigningKey;
  file: string;
  /** Present for HSS-LMS keys. */
  statePath?: string;
}

/** Load a private key PEM (encrypted or not). Errors name the file and never include key bytes. */
export async function loadSigningKey(file: string, opts: { passphrase?: string; statePath?: string; legacyAlgIds?: boolean } = {}): Promise<LoadedSigningKey> {
  const bytes = await readInput(file, 'private key file', 1024 * 1024);
  const text = Buffer.from(bytes).toString('utf8');
  let key: SigningKey;
  try {
    key = parsePrivateKey(text, opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {});
  } catch (e) {
    if (e instanceof UpdateError) {
      if (/ENCRYPTED PRIVATE KEY/.test(text) && (e.code === 'KEY_PASSPHRASE_REQUIRED' || opts.passphrase === undefined)) {
        throw new UpdateError('KEY_PASSPHRASE_REQUIRED', `private key ${file} is encrypted and ${opts.passphrase === undefined ? 'no passphrase was given' : 'the passphrase is wrong'}`, { cause: e });
      }
      throw new UpdateError(e.code, `private key ${file}: ${e.message}`, { cause: e });
    }
    throw new UpdateError('KEY_MALFORMED', `private key ${file} cannot be read`, { cause: e });
  }
  if (opts.legacyAlgIds && (key.kty === 'OKP' || key.kty === 'EC2')) {
    key = parsePrivateKey(text, { ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}), alg: key.kty === 'OKP' ? COSE_ALG.EDDSA : COSE_ALG.ES256 });
  }
  if (key.alg === COSE_ALG.HSS_LMS || isStatefulKey(key)) {
    const statePath = opts.statePath ?? statePathForKey(file);
    const st = await loadLmsState(statePath); // fail early, before any other work
    // Public Merkle tree nodes from KEY.state.tree, bound to the key id in the state; rebuilt if refused.
    await attachTreeCache(key, statePath, st.kid);
    await loadLmsState(statePath, key.kid);
    return { key: statefulKey(key, statePath), file, statePath };
  }
  return { key, file };
}

/**
 * A SigningKey whose `sign` reserves (and durably persists) the next one-time index first.
 * `sign` is synchronous in the SigningKey interface, so the reservation happens in `prepare()`,
 * which the signing code awaits right before each `sign` call.
 */
export interface PreparedSigningKey extends SigningKey {
  prepare(): Promise<{ remaining: number } | undefined>;
  remaining?: number;
}

function statefulKey(inner: SigningKey, statePath: string): PreparedSigningKey {
  let reserved: number | undefined;
  const k: PreparedSigningKey = {
    kid: inner.kid,
    alg: inner.alg,
    kty: inner.kty,
    publicKey: () => inner.publicKey(),
    async prepare() {
      const r = await reserveLmsIndex(statePath, inner.kid);
      reserved = r.index;
      // The index is durably used now. Entering a new lower-level tree computes it here (once per
      // 2^h signatures) and saves it with the cache; a cache that cannot be written only costs time.
      if (lmsPrepareIndex(inner, r.index)) {
        const bytes = lmsExportTreeCache(inner);
        if (bytes) await writeTreeCache(treeCachePathFor(statePath), bytes);
      }
      k.remaining = r.remaining;
      return { remaining: r.remaining };
    },
    sign(data: Uint8Array): Uint8Array {
      if (reserved === undefined) throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS key ${inner.kid}: no one-time index reserved before signing`);
      const index = reserved;
      reserved = undefined; // one index, one signature
      return lmsSignAt(inner, index, data);
    },
  };
  return k;
}

export async function prepareKey(k: SigningKey): Promise<{ remaining: number } | undefined> {
  const p = (k as Partial<PreparedSigningKey>).prepare;
  return p ? p.call(k) : undefined;
}

/** Load a public key: SPKI PEM, private PEM (its public half), COSE_Key (.cose) or hex. */
export async function loadTrustedKey(file: string): Promise<TrustedKey> {
  const bytes = await readInput(file, 'public key file', 1024 * 1024);
  const asText = Buffer.from(bytes).toString('utf8');
  try {
    if (/-----BEGIN /.test(asText)) {
      if (/PRIVATE KEY-----/.test(asText) && !/PUBLIC KEY-----/.test(asText)) {
        // A private key given where a public one is expected: use its public half, say nothing of the rest.
        return parsePrivateKey(asText).publicKey();
      }
      return parsePublicKey(asText);
    }
    if (path.extname(file).toLowerCase() === '.hex' || /^[0-9a-fA-F\s]+$/.test(asText)) return parsePublicKey(asText.trim());
    return parsePublicKey(bytes);
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `public key ${file}: ${e.message}`, { cause: e });
    throw new UpdateError('KEY_MALFORMED', `public key ${file} cannot be read`, { cause: e });
  }
}
