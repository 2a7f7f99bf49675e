/**
 * The HSS-LMS tree cache file, `KEY.state.tree`, next to the state.
 *
 * The Merkle tree nodes of an HSS-LMS key are public, but computing them means computing every
 * one-time public key (seconds for H10/W8, minutes for H15). The key generator writes them once;
 * every later `sign` reads them and computes one LM-OTS signature per level plus authentication
 * paths. The cache is never trusted blindly:
 *  - manifest/cose checks its checksum, recomputes every stored inner node from its children, checks
 *    it was made for this private key, and requires its root to give the key id recorded in the
 *    state file (and each lower tree to carry a valid signature by its parent);
 *  - a missing, corrupted or mismatched cache is ignored and rebuilt from the private key (slow,
 *    once) and written again;
 *  - every signature is verified against the public key before it is released.
 * Losing the cache costs time only; it carries no secret and no state (copying it is harmless).
 */
import { promises as fsp } from 'node:fs';
import type { SigningKey } from '../manifest/index.js';
import { writeFileAtomic } from './fsutil.js';
import { lmsExportTreeCache, lmsLoadTreeCache } from './lms-signer.js';

export const treeCachePathFor = (statePath: string): string => `${statePath}.tree`;

/** Largest cache we read (8 levels of up to 2 MiB of nodes each, plus signatures). */
const MAX_CACHE_BYTES = 20 * 1024 * 1024;

/** The cache bytes, or undefined when there is none or it cannot be read (then it is rebuilt). */
export async function readTreeCache(file: string): Promise<Uint8Array | undefined> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile() || st.size > MAX_CACHE_BYTES) return undefined;
    return new Uint8Array(await fsp.readFile(file));
  } catch {
    return undefined;
  }
}

/** Write the cache atomically. Returns false (and signs on) when it cannot be written. */
export async function writeTreeCache(file: string, bytes: Uint8Array): Promise<boolean> {
  try {
    await writeFileAtomic(file, bytes, { mode: 0o644, force: true, what: 'HSS-LMS tree cache' });
    return true;
  } catch {
    return false;
  }
}

export type TreeCacheStatus = 'loaded' | 'rebuilt' | 'unsupported';

/**
 * Give `key` the trees from the cache next to `statePath`, bound to `expectedKid` (the key id in
 * the state file). When the cache is missing or refused, the trees are computed from the private
 * key and, if they give `expectedKid`, a fresh cache is written.
 */
export async function attachTreeCache(key: SigningKey, statePath: string, expectedKid: string): Promise<TreeCacheStatus> {
  const file = treeCachePathFor(statePath);
  const bytes = await readTreeCache(file);
  const loaded = bytes ? lmsLoadTreeCache(key, bytes, expectedKid) : false;
  if (loaded === undefined) return 'unsupported';
  if (loaded) return 'loaded';
  if (key.kid === expectedKid) {
    const fresh = lmsExportTreeCache(key);
    if (fresh) await writeTreeCache(file, fresh);
  }
  return 'rebuilt';
}
