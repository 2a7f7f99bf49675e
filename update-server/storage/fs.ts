/**
 * Filesystem object store under `<dir>` (the server uses `DATA/objects`). Writes go to `.tmp/`, are
 * hashed while streaming, fsynced, verified and then renamed into place (rename is atomic on POSIX);
 * the directory is fsynced so the name survives a crash.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UpdateError } from '../../manifest/index.js';
import { checkExpectations, HashingCounter, toReadable } from './hashing.js';
import { assertObjectKey } from './keys.js';
import type { ByteRange, GetResult, ObjectInfo, ObjectStore, PutExpect, UploadStatus } from './port.js';
import { resolveRange } from './range.js';
import { UploadSessions } from './staging.js';

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

function ioError(e: unknown, what: string): UpdateError {
  if (e instanceof UpdateError) return e;
  return new UpdateError('STORAGE_UNAVAILABLE', `${what}: ${(e as Error).message}`, { cause: e });
}

export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  private readonly sessions: UploadSessions;

  constructor(private readonly root: string) {
    this.sessions = new UploadSessions(join(root, '.uploads'), async (key, partPath, meta) => {
      await this.place(partPath, key);
      return { key, size: meta.size, sha256: meta.sha256 };
    });
  }

  static async open(root: string): Promise<FsObjectStore> {
    try {
      await mkdir(join(root, '.tmp'), { recursive: true });
      await mkdir(join(root, '.uploads'), { recursive: true });
      // Leftovers of writes cut short by a crash were never visible; drop them.
      await rm(join(root, '.tmp'), { recursive: true, force: true });
      await mkdir(join(root, '.tmp'), { recursive: true });
    } catch (e) {
      throw ioError(e, `cannot prepare object directory ${root}`);
    }
    return new FsObjectStore(root);
  }

  private path(key: string): string {
    assertObjectKey(key);
    return join(this.root, ...key.split('/'));
  }

  private async place(tmp: string, key: string): Promise<void> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    await rename(tmp, final);
    await fsyncPath(dirname(final));
  }

  async put(key: string, body: Readable | Uint8Array, expect: PutExpect = {}): Promise<ObjectInfo> {
    const final = this.path(key);
    const tmp = join(this.root, '.tmp', randomBytes(12).toString('hex'));
    const counter = new HashingCounter(expect.maxBytes);
    try {
      await pipeline(toReadable(body), counter, createWriteStream(tmp, { flags: 'wx' }));
      await fsyncPath(tmp);
      const sha256 = counter.hash.digest('hex');
      checkExpectations(sha256, counter.bytes, expect);
      await this.place(tmp, key);
      return { key, size: counter.bytes, sha256 };
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof UpdateError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EIO') throw ioError(e, `writing ${final}`);
      throw new UpdateError('VALIDATION_FAILED', `upload interrupted: ${(e as Error).message}`, { cause: e });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, size: s.size } : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw ioError(e, `stat ${key}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const info = await this.head(key);
    if (!info) throw new UpdateError('NOT_FOUND', `no object ${key}`);
    const { start, end } = resolveRange(info.size, range);
    const body = info.size === 0 ? toReadable(new Uint8Array(0)) : createReadStream(this.path(key), { start, end });
    return { info, start, end, body };
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async presignGet(): Promise<string | null> {
    return null;
  }

  beginUpload(key: string, sha256: string, size: number): Promise<UploadStatus> {
    return this.sessions.begin(key, sha256, size);
  }
  uploadStatus(key: string): Promise<UploadStatus | null> {
    return this.sessions.status(key);
  }
  appendUpload(key: string, offset: number, body: Readable | Uint8Array): Promise<UploadStatus> {
    return this.sessions.append(key, offset, body);
  }
  abortUpload(key: string): Promise<void> {
    return this.sessions.abort(key);
  }

  async ping(): Promise<void> {
    try {
      await stat(this.root);
    } catch (e) {
      throw ioError(e, 'object directory missing');
    }
  }

  async close(): Promise<void> {}
}
