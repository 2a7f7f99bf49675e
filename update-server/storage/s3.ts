/**
 * S3 / MinIO object store through the `minio` client. A put spools the stream to local disk while
 * hashing it, checks digest and size, and only then PUTs it (S3 exposes an object only once its PUT
 * completes), so a reader never sees a half-written or wrong object. Resumable sessions are staged on
 * local disk (`stagingDir`) and published with the same verified put.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { UpdateError } from '../../manifest/index.js';
import { checkExpectations, HashingCounter, toReadable } from './hashing.js';
import { assertObjectKey } from './keys.js';
import type { ByteRange, GetResult, ObjectInfo, ObjectStore, PutExpect, UploadStatus } from './port.js';
import { resolveRange } from './range.js';
import { UploadSessions } from './staging.js';

export interface S3Options {
  /** e.g. http://127.0.0.1:9000 or https://s3.eu-west-1.amazonaws.com */
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  /** Path-style addressing (MinIO, s3rver). Default true. */
  pathStyle?: boolean;
  /** Local directory for resumable upload sessions. */
  stagingDir: string;
  /** Create the bucket if missing. Default true. */
  createBucket?: boolean;
}

function s3Error(e: unknown, what: string): UpdateError {
  if (e instanceof UpdateError) return e;
  return new UpdateError('STORAGE_UNAVAILABLE', `${what}: ${(e as Error).message}`, { cause: e });
}

const isNotFound = (e: unknown): boolean => {
  const code = (e as { code?: string })?.code;
  return code === 'NotFound' || code === 'NoSuchKey' || code === 'NoSuchBucket';
};

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: Client;
  private readonly sessions: UploadSessions;

  private constructor(private readonly opts: S3Options) {
    if (opts.bucket.length < 3) throw new UpdateError('VALIDATION_FAILED', 'S3 bucket names have at least 3 characters');
    const url = new URL(opts.endpoint);
    const useSSL = url.protocol === 'https:';
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      region: opts.region ?? 'us-east-1',
      pathStyle: opts.pathStyle ?? true,
    });
    this.sessions = new UploadSessions(opts.stagingDir, async (key, partPath, meta) =>
      this.put(key, createReadStream(partPath), { sha256: meta.sha256, size: meta.size }),
    );
  }

  static async open(opts: S3Options): Promise<S3ObjectStore> {
    const s = new S3ObjectStore(opts);
    await mkdir(opts.stagingDir, { recursive: true });
    try {
      const exists = await s.client.bucketExists(opts.bucket);
      if (!exists) {
        if (opts.createBucket === false) throw new UpdateError('STORAGE_UNAVAILABLE', `bucket ${opts.bucket} does not exist`);
        await s.client.makeBucket(opts.bucket, opts.region ?? 'us-east-1');
      }
    } catch (e) {
      throw s3Error(e, `S3 bucket ${opts.bucket} unavailable`);
    }
    return s;
  }

  async put(key: string, body: Readable | Uint8Array, expect: PutExpect = {}): Promise<ObjectInfo> {
    assertObjectKey(key);
    // Spool to local disk while hashing, verify, then one PUT with a known length. S3 makes an object
    // visible only when its PUT completes, and the bytes were checked before the PUT started.
    const spool = join(this.opts.stagingDir, `.put-${randomBytes(12).toString('hex')}`);
    const counter = new HashingCounter(expect.maxBytes);
    try {
      try {
        await pipeline(toReadable(body), counter, createWriteStream(spool, { flags: 'wx' }));
      } catch (e) {
        if (e instanceof UpdateError) throw e;
        throw new UpdateError('VALIDATION_FAILED', `upload interrupted: ${(e as Error).message}`, { cause: e });
      }
      const sha256 = counter.hash.digest('hex');
      checkExpectations(sha256, counter.bytes, expect);
      try {
        await this.client.putObject(this.opts.bucket, key, createReadStream(spool), counter.bytes, { 'x-amz-meta-sha256': sha256 });
      } catch (e) {
        throw s3Error(e, `put ${key}`);
      }
      return { key, size: counter.bytes, sha256 };
    } finally {
      await rm(spool, { force: true });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertObjectKey(key);
    try {
      const st = await this.client.statObject(this.opts.bucket, key);
      return { key, size: st.size };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw s3Error(e, `stat ${key}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const info = await this.head(key);
    if (!info) throw new UpdateError('NOT_FOUND', `no object ${key}`);
    const { start, end } = resolveRange(info.size, range);
    if (info.size === 0) return { info, start, end, body: toReadable(new Uint8Array(0)) };
    try {
      const body = await this.client.getPartialObject(this.opts.bucket, key, start, end - start + 1);
      return { info, start, end, body };
    } catch (e) {
      if (isNotFound(e)) throw new UpdateError('NOT_FOUND', `no object ${key}`);
      throw s3Error(e, `get ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    try {
      await this.client.removeObject(this.opts.bucket, key);
    } catch (e) {
      if (!isNotFound(e)) throw s3Error(e, `delete ${key}`);
    }
  }

  async presignGet(key: string, expiresSeconds: number): Promise<string | null> {
    assertObjectKey(key);
    // S3 caps presigned URLs at 7 days.
    const secs = Math.max(1, Math.min(7 * 24 * 3600, Math.floor(expiresSeconds)));
    try {
      return await this.client.presignedGetObject(this.opts.bucket, key, secs);
    } catch (e) {
      throw s3Error(e, `presign ${key}`);
    }
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
      if (!(await this.client.bucketExists(this.opts.bucket))) throw new UpdateError('STORAGE_UNAVAILABLE', 'bucket missing');
    } catch (e) {
      throw s3Error(e, 'S3 unavailable');
    }
  }

  async close(): Promise<void> {}
}
