/** JSON / CBOR content negotiation shared by the management and device APIs. */
import type { Request, RequestHandler, Response } from 'express';
import { decodeCbor, encodeCbor, UpdateError, type CborValue } from '../../manifest/index.js';
import { seqJson } from '../util/seq.js';

export const CBOR = 'application/cbor';
export const JSON_TYPE = 'application/json';

/** Picks the response type: CBOR when the client prefers it (or `preferCbor` and it accepts both). */
export function wantsCbor(req: Request, preferCbor = false): boolean {
  const order = preferCbor ? [CBOR, JSON_TYPE] : [JSON_TYPE, CBOR];
  return req.accepts(order) === CBOR;
}

/** JSON → CBOR-encodable value: objects become text-keyed maps, undefined fields are dropped. */
export function toCborValue(v: unknown): CborValue {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map(toCborValue);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'object') {
    const m = new Map<string, CborValue>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) m.set(k, toCborValue(x));
    return m;
  }
  return v as CborValue;
}

/** CBOR → plain JSON-like value (text-keyed maps become objects; other keys are refused). */
export function fromCborValue(v: CborValue): unknown {
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) {
      if (typeof k !== 'string') throw new UpdateError('VALIDATION_FAILED', 'CBOR body maps must have text keys');
      o[k] = fromCborValue(x);
    }
    return o;
  }
  if (Array.isArray(v)) return v.map(fromCborValue);
  if (typeof v === 'bigint') throw new UpdateError('VALIDATION_FAILED', 'integer out of range');
  return v;
}

/** JSON has no uint64: bigints (sequence numbers, util/seq.ts) become a number ≤ 2^53−1, else a decimal string. */
const jsonBigint = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? seqJson(v) : v);

export function sendData(req: Request, res: Response, status: number, body: unknown, opts: { preferCbor?: boolean } = {}): void {
  res.status(status);
  if (wantsCbor(req, opts.preferCbor)) {
    res.type(CBOR).send(Buffer.from(encodeCbor(toCborValue(body))));
  } else {
    res.type(JSON_TYPE).send(JSON.stringify(body, jsonBigint));
  }
}

/**
 * Body parser for `application/json` and `application/cbor` with a byte limit; puts the plain value in
 * `req.body`. Other content types are refused with UNSUPPORTED_MEDIA_TYPE (unless the body is empty).
 */
export function parseBody(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const len = req.headers['content-length'];
    const hasBody = (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      req.body = undefined;
      return next();
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== JSON_TYPE && type !== CBOR) return next(new UpdateError('UNSUPPORTED_MEDIA_TYPE', `expected ${JSON_TYPE} or ${CBOR}, got '${type || 'none'}'`));
    if (len !== undefined && Number(len) > limitBytes) {
      req.resume();
      return next(new UpdateError('INPUT_TOO_LARGE', `body exceeds ${limitBytes} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limitBytes) {
        failed = true;
        next(new UpdateError('INPUT_TOO_LARGE', `body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('error', (e) => {
      if (!failed) { failed = true; next(new UpdateError('VALIDATION_FAILED', 'request body aborted', { cause: e })); }
    });
    req.on('end', () => {
      if (failed) return;
      const buf = Buffer.concat(chunks);
      try {
        if (type === CBOR) req.body = fromCborValue(decodeCbor(new Uint8Array(buf), { maxBytes: limitBytes }));
        else req.body = buf.length === 0 ? undefined : (JSON.parse(buf.toString('utf8')) as unknown);
      } catch (e) {
        failed = true;
        return next(e instanceof UpdateError ? e : new UpdateError('VALIDATION_FAILED', 'request body is not valid JSON', { cause: e }));
      }
      next();
    });
  };
}
