/**
 * `suit-sign delta --from OLD --to NEW -o PATCH`: a patch in the delta part's format
 * (docs/delta-format.md). The patch is transport encoding only: the manifest binds the target
 * digest, which the device checks after applying (docs/release-description.md, "Deltas").
 */
import { createHash } from 'node:crypto';
import { encodeDelta } from '../delta/index.js';
import { readInput, writeFileAtomic } from './fsutil.js';

/** Images above this are refused: the encoder works in memory (suffix array over OLD). */
export const MAX_DELTA_INPUT = 512 * 1024 * 1024;

export interface DeltaResult {
  patch: string;
  from: { file: string; size: number; sha256: string };
  to: { file: string; size: number; sha256: string };
  patchSize: number;
  /** patch size / target size */
  ratio: number;
}

export async function makeDeltaFile(from: string, to: string, out: string, opts: { force?: boolean } = {}): Promise<DeltaResult> {
  const oldBytes = await readInput(from, 'precursor image (--from)', MAX_DELTA_INPUT);
  const newBytes = await readInput(to, 'target image (--to)', MAX_DELTA_INPUT);
  const patch = encodeDelta(oldBytes, newBytes);
  await writeFileAtomic(out, patch, { force: opts.force ?? false, what: 'patch file' });
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  return {
    patch: out,
    from: { file: from, size: oldBytes.length, sha256: sha(oldBytes) },
    to: { file: to, size: newBytes.length, sha256: sha(newBytes) },
    patchSize: patch.length,
    ratio: newBytes.length === 0 ? 0 : patch.length / newBytes.length,
  };
}
