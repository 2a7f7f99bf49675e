/** File helpers: durable writes, refusing to overwrite, and clear errors naming the file. */
import { promises as fsp, constants as C } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UpdateError } from '../manifest/index.js';

export function ioError(e: unknown, what: string, file: string): UpdateError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new UpdateError('FILE_NOT_FOUND', `${what} ${file} does not exist`, { cause: e, details: { file } });
  if (code === 'EEXIST') return new UpdateError('FILE_EXISTS', `${what} ${file} already exists`, { cause: e, details: { file } });
  if (code === 'EACCES' || code === 'EPERM') return new UpdateError('IO_ERROR', `${what} ${file}: permission denied`, { cause: e, details: { file } });
  if (code === 'EISDIR') return new UpdateError('IO_ERROR', `${what} ${file} is a directory`, { cause: e, details: { file } });
  return new UpdateError('IO_ERROR', `${what} ${file}: ${(e as Error)?.message ?? String(e)}`, { cause: e, details: { file } });
}

export async function readInput(file: string, what = 'input file', maxBytes = 64 * 1024 * 1024): Promise<Uint8Array> {
  try {
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (st.size > maxBytes) throw new UpdateError('INPUT_TOO_LARGE', `${what} ${file} is ${st.size} bytes, more than the limit of ${maxBytes}`);
    return new Uint8Array(await fsp.readFile(file));
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    throw ioError(e, what, file);
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.lstat(file);
    return true;
  } catch {
    return false;
  }
}

export async function refuseExisting(files: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const f of files) if (await exists(f)) throw new UpdateError('FILE_EXISTS', `${f} already exists (nothing was written)`, { details: { file: f } });
}

/**
 * Write `data` durably and atomically: temp file in the same directory, fsync, rename, fsync the
 * directory. Readers see the old or the new content, never a torn file, even after a power cut.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, opts: { mode?: number; force?: boolean; what?: string } = {}): Promise<void> {
  const what = opts.what ?? 'output file';
  if (!opts.force && (await exists(file))) throw new UpdateError('FILE_EXISTS', `${what} ${file} already exists`, { details: { file } });
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.chmod(opts.mode ?? 0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
    await fsyncDir(dir);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof UpdateError) throw e;
    throw ioError(e, `writing ${what}`, file);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}
