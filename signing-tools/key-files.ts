/**
 * `suit-sign keygen`: PATH.pem (PKCS#8, mode 0600, optionally encrypted), PATH.pub.pem (SPKI),
 * PATH.cose (public COSE_Key) and, for HSS-LMS, PATH.state + PATH.state.journal.
 * Refuses to overwrite any of them unless `force`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  UpdateError,
  COSE_ALG,
  generateKey,
  exportPrivatePem,
  exportPublicPem,
  encodeCoseKey,
  type SigningKey,
} from '../manifest/index.js';
import { refuseExisting, writeFileAtomic } from './fsutil.js';
import { createLmsState, journalPathFor } from './lms-state.js';
import { lmsTotalSignatures, lmsExportTreeCache } from './lms-signer.js';
import { treeCachePathFor, writeTreeCache } from './lms-cache.js';
import { statePathForKey } from './keys.js';

export type KeygenAlg = 'ed25519' | 'p256' | 'hss-lms';

export interface LmsParams {
  /** LMS tree height per level, e.g. [5] or [10, 10] (HSS levels). */
  heights: number[];
  /** Winternitz parameter w (1, 2, 4 or 8). */
  w: number;
}

/** "H5W8", "H10,H10 W4", "H5/H5 W8" → { heights, w }. */
export function parseLmsParams(s: string): LmsParams {
  const m = /^\s*H(\d+)((?:[,/]H?\d+)*)\s*[_ ,/-]?\s*W(\d+)\s*$/i.exec(s);
  if (!m) throw new UpdateError('USAGE', `--lms-params "${s}" is not like H5W8 or H10/H10W4 (tree heights and Winternitz parameter)`);
  const heights = [Number(m[1]), ...(m[2] ?? '').split(/[,/]/).filter(Boolean).map((x) => Number(x.replace(/^H/i, '')))];
  const w = Number(m[3]);
  if (!heights.every((h) => [5, 10, 15, 20, 25].includes(h))) throw new UpdateError('USAGE', `--lms-params: tree heights must be 5, 10, 15, 20 or 25 (RFC 8554 §5.1), got ${heights.join('/')}`);
  if (heights.length > 8) throw new UpdateError('USAGE', '--lms-params: at most 8 HSS levels');
  if (![1, 2, 4, 8].includes(w)) throw new UpdateError('USAGE', `--lms-params: W must be 1, 2, 4 or 8 (RFC 8554 §4.1), got ${w}`);
  return { heights, w };
}

export interface KeygenOptions {
  alg: KeygenAlg;
  lmsParams?: LmsParams;
  passphrase?: string;
  force?: boolean;
  /** PBKDF2 iterations for an encrypted key (tests lower it). */
  iterations?: number;
}

export interface KeygenResult {
  kid: string;
  alg: number;
  algName: KeygenAlg;
  files: { privateKey: string; publicKey: string; coseKey: string; state?: string; journal?: string; treeCache?: string };
  encrypted: boolean;
  /** HSS-LMS only. */
  signaturesRemaining?: number;
}

export function keyFilePaths(out: string, alg: KeygenAlg): KeygenResult['files'] {
  const base = out.replace(/\.pem$/i, '');
  const files: KeygenResult['files'] = { privateKey: `${base}.pem`, publicKey: `${base}.pub.pem`, coseKey: `${base}.cose` };
  if (alg === 'hss-lms') {
    files.state = statePathForKey(files.privateKey);
    files.journal = journalPathFor(files.state);
    files.treeCache = treeCachePathFor(files.state);
  }
  return files;
}

/** Generate a key and write its files. Returns what was written (never key bytes). */
export async function generateKeyFiles(out: string, opts: KeygenOptions): Promise<KeygenResult> {
  const files = keyFilePaths(out, opts.alg);
  await refuseExisting(Object.values(files).filter((f): f is string => typeof f === 'string'), opts.force ?? false);
  // A new key directory is private to its owner.
  await fsp.mkdir(path.dirname(files.privateKey), { recursive: true, mode: 0o700 });
  let key: SigningKey;
  if (opts.alg === 'hss-lms') {
    const p = opts.lmsParams ?? { heights: [10, 10], w: 8 };
    key = generateKey('hss-lms', p);
  } else {
    key = generateKey(opts.alg);
  }
  const pemOpts: { passphrase?: string; iterations?: number } = {};
  if (opts.passphrase !== undefined) pemOpts.passphrase = opts.passphrase;
  if (opts.iterations !== undefined) pemOpts.iterations = opts.iterations;
  const force = opts.force ?? false;
  // State first: a private key without its state file must never exist (it could not sign safely).
  let remaining: number | undefined;
  if (opts.alg === 'hss-lms') {
    const total = lmsTotalSignatures(key);
    await createLmsState(files.state!, key.kid, total, force);
    // The trees were computed by the generator: keep their public nodes so signing need not redo it.
    const cache = lmsExportTreeCache(key);
    if (cache) await writeTreeCache(files.treeCache!, cache);
    remaining = total;
  }
  await writeFileAtomic(files.privateKey, exportPrivatePem(key, pemOpts), { mode: 0o600, force, what: 'private key file' });
  await writeFileAtomic(files.publicKey, exportPublicPem(key), { force, what: 'public key file' });
  await writeFileAtomic(files.coseKey, encodeCoseKey(key), { force, what: 'COSE key file' });
  return {
    kid: key.kid,
    alg: key.alg,
    algName: opts.alg,
    files,
    encrypted: opts.passphrase !== undefined,
    ...(remaining !== undefined ? { signaturesRemaining: remaining } : {}),
  };
}

export const KEYGEN_ALG_IDS: Record<KeygenAlg, number> = { ed25519: COSE_ALG.ED25519, p256: COSE_ALG.ESP256, 'hss-lms': COSE_ALG.HSS_LMS };
