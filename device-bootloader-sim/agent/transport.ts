/**
 * The device's HTTP transport to the server's device API v1 (CBOR bodies), with byte accounting:
 * every request and response is counted as it would cross the air (status/request line, headers,
 * body). Downloads stream with `Range` and can be cut at a byte count to simulate a broken link.
 */
import { UpdateError, decodeCbor, encodeCbor, type CborValue } from '../../manifest/index.js';

export interface ByteCounters {
  rx: number;
  tx: number;
  requests: number;
}

export class HttpError extends UpdateError {
  constructor(
    readonly status: number,
    readonly serverCode: string | undefined,
    message: string,
    readonly retryAfter: number | undefined,
  ) {
    super(status === 429 ? 'RATE_LIMITED' : status === 401 ? 'AUTH_REQUIRED' : status === 410 ? 'GONE' : status === 404 ? 'NOT_FOUND' : status === 403 ? 'DEVICE_NOT_ENROLLED' : 'NETWORK_ERROR', message);
  }
}

/** Plain JS view of decoded CBOR (text-keyed maps → objects). */
export function plain(v: CborValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** A JSON-like value as a CBOR body: objects become text-keyed maps, undefined fields are dropped. */
export function toCbor(v: unknown): CborValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toCbor);
  if (typeof v === 'object') {
    const m = new Map<string, CborValue>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) m.set(k, toCbor(x));
    return m;
  }
  return v as CborValue;
}

const headerBytes = (h: Headers | Record<string, string>): number => {
  let n = 2;
  const entries = h instanceof Headers ? [...h.entries()] : Object.entries(h);
  for (const [k, v] of entries) n += k.length + v.length + 4;
  return n;
};

const MAX_ANSWER = 256 * 1024;

export class DeviceTransport {
  readonly bytes: ByteCounters = { rx: 0, tx: 0, requests: 0 };
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs = 15_000,
  ) {}

  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : this.baseUrl.replace(/\/+$/, '') + path;
  }

  private countRequest(method: string, path: string, headers: Record<string, string>, body: number): void {
    this.bytes.requests++;
    // request line + Host + headers + body
    this.bytes.tx += method.length + path.length + 11 + 6 + this.baseUrl.length + headerBytes(headers) + body;
  }

  /** CBOR request/response. Non-2xx answers throw HttpError (with the server's error code). */
  async call(method: 'GET' | 'POST', path: string, opts: { token?: string; body?: unknown; etag?: string } = {}): Promise<{ status: number; body: Record<string, unknown> | null; headers: Headers }> {
    const headers: Record<string, string> = { Accept: 'application/cbor' };
    if (opts.token) headers['Authorization'] = `Bearer ${opts.token}`;
    if (opts.etag) headers['If-None-Match'] = opts.etag;
    let payload: Uint8Array | undefined;
    if (opts.body !== undefined) {
      payload = encodeCbor(toCbor(opts.body));
      headers['Content-Type'] = 'application/cbor';
    }
    this.countRequest(method, path, headers, payload?.length ?? 0);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    let res: Response;
    let buf: Uint8Array;
    try {
      try {
        res = await fetch(this.url(path), { method, headers, ...(payload ? { body: payload } : {}), signal: ac.signal });
      } catch (e) {
        throw new UpdateError('NETWORK_ERROR', `${method} ${path}: ${(e as Error).message}`, { cause: e });
      }
      this.bytes.rx += 17 + headerBytes(res.headers);
      buf = await this.readBounded(res, MAX_ANSWER, ac, `${method} ${path}`);
    } finally {
      clearTimeout(timer);
    }
    let body: Record<string, unknown> | null = null;
    if (buf.length > 0 && (res.headers.get('content-type') ?? '').includes('cbor')) {
      body = plain(decodeCbor(buf, { maxBytes: MAX_ANSWER, maxDepth: 16 })) as Record<string, unknown>;
    }
    if (res.status >= 400) {
      const err = (body?.['error'] ?? {}) as { code?: string; message?: string };
      const ra = res.headers.get('retry-after');
      throw new HttpError(res.status, err.code, `${method} ${path}: ${res.status} ${err.code ?? ''} ${err.message ?? ''}`.trim(), ra !== null && /^\d+$/.test(ra) ? Number(ra) : undefined);
    }
    return { status: res.status, body, headers: res.headers };
  }

  /**
   * The whole body of an answer, but never more than `limit` bytes in memory: a Content-Length above the
   * limit is refused before reading, and reading stops (connection aborted) as soon as the limit is passed.
   */
  private async readBounded(res: Response, limit: number, ac: AbortController, what: string): Promise<Uint8Array> {
    const tooLarge = () => new UpdateError('INPUT_TOO_LARGE', `${what}: server answer larger than ${limit} B`);
    const announced = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(announced) && announced > limit) {
      ac.abort();
      throw tooLarge();
    }
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    const parts: Uint8Array[] = [];
    let n = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const keep = Math.min(value.length, limit + 1 - n);
        this.bytes.rx += keep;
        n += keep;
        if (n > limit) throw tooLarge();
        parts.push(value);
      }
    } catch (e) {
      ac.abort();
      void reader.cancel().catch(() => undefined);
      if (e instanceof UpdateError) throw e;
      throw new UpdateError('NETWORK_ERROR', `${what}: body: ${(e as Error).message}`, { cause: e });
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * GET `path` from byte `start` and hand the body to `sink` in chunks of at most `chunk` bytes
   * (the device's receive buffer). `cutAfter` simulates a broken link after that many body bytes.
   * Returns the bytes received; the caller resumes from its own offset.
   */
  async download(path: string, token: string, start: number, total: number, sink: (b: Uint8Array) => void, opts: { chunk: number; cutAfter?: number; etag?: string; pace?: (bytes: number) => Promise<void> }): Promise<number> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/octet-stream' };
    if (start > 0) {
      headers['Range'] = `bytes=${start}-`;
      if (opts.etag) headers['If-Range'] = opts.etag;
    }
    this.countRequest('GET', path, headers, 0);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.timeoutMs);
    let got = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      let res: Response;
      try {
        res = await fetch(this.url(path), { headers, signal: ac.signal });
      } catch (e) {
        throw new UpdateError('NETWORK_ERROR', `GET ${path}: ${(e as Error).message}`, { cause: e });
      }
      this.bytes.rx += 17 + headerBytes(res.headers);
      if (res.status >= 400) {
        // An error answer is small; more than 4 KiB of it is not read (and not trusted).
        const b = await this.readBounded(res, 4096, ac, `GET ${path}`).catch(() => new Uint8Array(0));
        const ra = res.headers.get('retry-after');
        let code: string | undefined;
        try {
          code = ((plain(decodeCbor(b, { maxBytes: 4096 })) as { error?: { code?: string } }).error?.code);
        } catch {
          code = undefined;
        }
        throw new HttpError(res.status, code, `GET ${path}: ${res.status} ${code ?? ''}`, ra !== null && /^\d+$/.test(ra) ? Number(ra) : undefined);
      }
      if (start > 0 && res.status !== 206) throw new UpdateError('NETWORK_ERROR', `GET ${path}: asked for a range, got ${res.status}`);
      if (!res.body) return 0;
      const want = total - start;
      reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let v = value;
        // Never more than announced: what lies past `total` is not handed on, and reading stops below.
        if (got + v.length > want) v = v.subarray(0, want - got);
        if (opts.cutAfter !== undefined && got + v.length > opts.cutAfter) {
          const keep = Math.max(0, opts.cutAfter - got);
          this.feed(v.subarray(0, keep), sink, opts.chunk);
          got += keep;
          this.bytes.rx += keep;
          ac.abort();
          await reader.cancel().catch(() => undefined);
          throw new UpdateError('NETWORK_ERROR', `GET ${path}: connection broken after ${start + got} bytes`);
        }
        if (opts.pace) {
          // Radio pacing: each receive buffer takes its time on air.
          for (let i = 0; i < v.length; i += opts.chunk) {
            const part = v.subarray(i, Math.min(v.length, i + opts.chunk));
            sink(part);
            got += part.length;
            this.bytes.rx += part.length;
            await opts.pace(part.length);
          }
        } else {
          this.feed(v, sink, opts.chunk);
          got += v.length;
          this.bytes.rx += v.length;
        }
        if (got >= want) {
          await reader.cancel().catch(() => undefined);
          break;
        }
      }
      if (got < want) throw new UpdateError('NETWORK_ERROR', `GET ${path}: body ended after ${start + got} of ${total} bytes`);
      return got;
    } catch (e) {
      // Whatever failed (the sink refused the bytes, the link broke, the body was short): close the
      // connection, so a hostile server cannot keep an endless body flowing into a device that has stopped.
      ac.abort();
      if (reader) void reader.cancel().catch(() => undefined);
      if (e instanceof UpdateError) throw Object.assign(e, { received: got });
      throw Object.assign(new UpdateError('NETWORK_ERROR', `GET ${path}: ${(e as Error).message}`, { cause: e }), { received: got });
    } finally {
      clearTimeout(timer);
    }
  }

  private feed(v: Uint8Array, sink: (b: Uint8Array) => void, chunk: number): void {
    for (let i = 0; i < v.length; i += chunk) sink(v.subarray(i, Math.min(v.length, i + chunk)));
  }
}
