import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { UpdateError } from '../../manifest/index.js';

/** Pass-through that hashes and counts, and refuses (INPUT_TOO_LARGE) past `maxBytes`. */
export class HashingCounter extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      cb(new UpdateError('INPUT_TOO_LARGE', `object exceeds ${this.maxBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

export function toReadable(body: Readable | Uint8Array): Readable {
  return body instanceof Uint8Array ? Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]) : body;
}

/** Checks a finished upload against what the caller promised. */
export function checkExpectations(actualSha: string, actualSize: number, expect: { sha256?: string; size?: number }): void {
  if (expect.size !== undefined && expect.size !== actualSize) {
    throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `size is ${actualSize}, expected ${expect.size}`, { details: { size: actualSize } });
  }
  if (expect.sha256 !== undefined && expect.sha256 !== actualSha) {
    throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `sha256 is ${actualSha}, expected ${expect.sha256}`, { details: { sha256: actualSha } });
  }
}

/** Per-key in-process mutex (serialises appends and publishes of one upload). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.tails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === next) this.tails.delete(key);
    }
  }
}
