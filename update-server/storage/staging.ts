/**
 * Resumable upload sessions kept on local disk (both backends use it; S3 publishes the finished file
 * with a normal verified put). Per session: `<id>.json` (key, sha256, size) and `<id>.part` (bytes so
 * far, fsynced after every append, so the offset survives a crash).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UpdateError } from '../../manifest/index.js';
import { checkExpectations, KeyedLock, toReadable } from './hashing.js';
import { assertObjectKey, assertSha256Hex } from './keys.js';
import type { ObjectInfo, UploadStatus } from './port.js';

interface SessionMeta { key: string; sha256: string; size: number }

export class UploadSessions {
  private readonly lock = new KeyedLock();

  constructor(
    private readonly dir: string,
    /** Moves the verified part file to its final place; must be atomic from readers' point of view. */
    private readonly publish: (key: string, partPath: string, meta: SessionMeta) => Promise<ObjectInfo>,
  ) {}

  private paths(key: string): { meta: string; part: string } {
    const id = createHash('sha256').update(key).digest('hex');
    return { meta: join(this.dir, `${id}.json`), part: join(this.dir, `${id}.part`) };
  }

  private async readMeta(key: string): Promise<SessionMeta | null> {
    try {
      return JSON.parse(await readFile(this.paths(key).meta, 'utf8')) as SessionMeta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new UpdateError('STORAGE_UNAVAILABLE', `upload session unreadable: ${(e as Error).message}`, { cause: e });
    }
  }

  private async partSize(key: string): Promise<number> {
    try {
      return (await stat(this.paths(key).part)).size;
    } catch {
      return 0;
    }
  }

  async begin(key: string, sha256: string, size: number): Promise<UploadStatus> {
    assertObjectKey(key);
    assertSha256Hex(sha256);
    if (!Number.isSafeInteger(size) || size < 0) throw new UpdateError('VALIDATION_FAILED', 'size must be a non-negative integer');
    return this.lock.run(key, async () => {
      const existing = await this.readMeta(key);
      if (existing) {
        if (existing.sha256 !== sha256 || existing.size !== size) throw new UpdateError('CONFLICT', 'an upload session with another digest or size is open for this key');
        return { key, sha256, size, offset: await this.partSize(key), complete: false };
      }
      await mkdir(this.dir, { recursive: true });
      const tmp = join(this.dir, `.${randomBytes(8).toString('hex')}.tmp`);
      await writeFile(tmp, JSON.stringify({ key, sha256, size } satisfies SessionMeta));
      await writeFile(this.paths(key).part, new Uint8Array(0));
      await rename(tmp, this.paths(key).meta);
      return { key, sha256, size, offset: 0, complete: false };
    });
  }

  async status(key: string): Promise<UploadStatus | null> {
    assertObjectKey(key);
    const meta = await this.readMeta(key);
    if (!meta) return null;
    return { ...meta, offset: await this.partSize(key), complete: false };
  }

  async append(key: string, offset: number, body: Readable | Uint8Array): Promise<UploadStatus> {
    assertObjectKey(key);
    return this.lock.run(key, async () => {
      const meta = await this.readMeta(key);
      if (!meta) {
        toReadable(body).resume();
        throw new UpdateError('NOT_FOUND', 'no upload session for this key');
      }
      const current = await this.partSize(key);
      if (offset !== current) {
        toReadable(body).resume();
        throw new UpdateError('CONFLICT', `upload offset is ${current}, not ${offset}`, { details: { offset: current } });
      }
      const { part } = this.paths(key);
      // Chunk by chunk (not pipeline) so every byte that arrived is on disk even if the client drops.
      const remaining = meta.size - current;
      let written = 0;
      let streamError: unknown;
      const fh = await open(part, 'a');
      try {
        try {
          for await (const chunk of toReadable(body)) {
            const buf = chunk as Buffer;
            if (written + buf.length > remaining) {
              streamError = new UpdateError('INPUT_TOO_LARGE', 'overflow');
              break;
            }
            await fh.write(buf);
            written += buf.length;
          }
        } catch (e) {
          streamError = e;
        }
        if (streamError instanceof UpdateError && streamError.code === 'INPUT_TOO_LARGE') await fh.truncate(current);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (streamError instanceof UpdateError && streamError.code === 'INPUT_TOO_LARGE') {
        throw new UpdateError('VALIDATION_FAILED', `more bytes than the declared size ${meta.size}`, { details: { offset: current } });
      }
      const now = await this.partSize(key);
      if (streamError) {
        throw new UpdateError('VALIDATION_FAILED', `upload interrupted at offset ${now}`, { cause: streamError, details: { offset: now } });
      }
      if (now < meta.size) return { ...meta, offset: now, complete: false };
      // Last byte arrived: verify the whole file, then publish atomically or discard.
      const h = createHash('sha256');
      await pipeline(createReadStream(part), h);
      const actual = h.digest('hex');
      try {
        checkExpectations(actual, now, meta);
      } catch (e) {
        await this.discard(key);
        throw e;
      }
      await this.publish(key, part, meta);
      await this.discard(key);
      return { ...meta, offset: now, complete: true };
    });
  }

  async discard(key: string): Promise<void> {
    const p = this.paths(key);
    await rm(p.meta, { force: true });
    await rm(p.part, { force: true });
  }

  async abort(key: string): Promise<void> {
    assertObjectKey(key);
    await this.lock.run(key, () => this.discard(key));
  }
}
