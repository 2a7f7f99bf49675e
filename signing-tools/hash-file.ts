/**
 * Streaming image hashing: a 1 GiB image is read in 1 MiB chunks, never held in memory.
 * SHA-2 runs on node:crypto (OpenSSL, several times faster than a JS hash on big images);
 * other SUIT digest algorithms use manifest's streaming hasher.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { createHasher, DIGEST_ALG, type SuitDigest } from '../manifest/index.js';
import { ioError } from './fsutil.js';

const NODE_HASH: Record<number, string> = { [DIGEST_ALG.SHA256]: 'sha256', [DIGEST_ALG.SHA384]: 'sha384', [DIGEST_ALG.SHA512]: 'sha512' };

export type ProgressFn = (event: { file: string; done: number; total: number }) => void;

export async function hashFile(file: string, alg: number, onProgress?: ProgressFn, what = 'image file'): Promise<{ digest: SuitDigest; size: number }> {
  let total: number;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    total = st.size;
  } catch (e) {
    throw ioError(e, what, file);
  }
  const name = NODE_HASH[alg];
  const h = name ? createHash(name) : undefined;
  const s = h ? undefined : createHasher(alg);
  let done = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      const b = chunk as Buffer;
      if (h) h.update(b);
      else s!.update(b);
      done += b.length;
      onProgress?.({ file, done, total });
    }
  } catch (e) {
    throw ioError(e, `reading ${what}`, file);
  }
  const digest: SuitDigest = h ? { alg, bytes: new Uint8Array(h.digest()) } : s!.digest();
  return { digest, size: done };
}
