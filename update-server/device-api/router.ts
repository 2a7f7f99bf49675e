/**
 * `/device/v1`: the device protocol. CBOR (`application/cbor`) unless the device asks for JSON
 * (`Accept: application/json` / a JSON body); byte strings are base64url in JSON. Errors are
 * `{ error: { code, message } }` in the same format (the shared error handler, told to prefer CBOR).
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { encodeCbor, UpdateError, type CborValue } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import { parseBody } from '../http/negotiate.js';
import { MAX_SEQ, seqJson } from '../util/seq.js';
import { parseRangeHeader } from '../storage/index.js';
import { REPORT_BODY_MAX, ReportBody } from './reports.js';
import { deviceApi, type DeviceApi, type DeviceApiOptions, type PollAnswer } from './service.js';

const CBOR = 'application/cbor';
const JSON_TYPE = 'application/json';
const AUTH_BODY_MAX = 4096;

declare module 'express-serve-static-core' {
  interface Request {
    device?: { id: string; tokenHash: string };
  }
}

/** JSON only when the client asks for it and not for CBOR (cheap check on the hot path). */
export function wantsJson(req: Request): boolean {
  const a = req.headers.accept;
  if (a === undefined || a === '' || a === '*/*') return false;
  return a.includes(JSON_TYPE) && !a.includes(CBOR);
}

/** Plain JS → CBOR value (text-keyed maps; Uint8Array stays a byte string; undefined dropped). */
function cborOf(v: unknown): CborValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(cborOf);
  if (typeof v === 'object') {
    const m = new Map<string, CborValue>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) m.set(k, cborOf(x));
    return m;
  }
  return v as CborValue;
}

function jsonOf(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64url');
  if (typeof v === 'bigint') return seqJson(v); // uint64 sequence numbers: number ≤ 2^53−1, else decimal string
  if (Array.isArray(v)) return v.map(jsonOf);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) o[k] = jsonOf(x);
    return o;
  }
  return v;
}

export function send(req: Request, res: Response, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  if (wantsJson(req)) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(jsonOf(body)));
  } else {
    const buf = encodeCbor(cborOf(body));
    res.setHeader('Content-Type', CBOR);
    res.end(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  }
}

const keyBytes = new Map<string, Uint8Array>();
function encodedKey(k: string): Uint8Array {
  let b = keyBytes.get(k);
  if (!b) keyBytes.set(k, (b = encodeCbor(k)));
  return b;
}

/**
 * Deterministic CBOR of a text-keyed map split around one key's value (`hole`): `prefix` ends with
 * that key, `suffix` holds the entries after it. The poll answer is encoded once per assignment this
 * way and only its `pollAfter` value is encoded per request.
 */
export function encodeMapAround(obj: Record<string, unknown>, hole: string): { prefix: Buffer; suffix: Buffer } {
  const entries: [Uint8Array, Uint8Array | null][] = [[encodedKey(hole), null]];
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && k !== hole) entries.push([encodedKey(k), encodeCbor(cborOf(v))]);
  // RFC 8949 §4.2.1: keys sorted by the bytewise order of their encodings.
  entries.sort((x, y) => Buffer.compare(x[0], y[0]));
  const n = entries.length;
  const head = n < 24 ? Buffer.from([0xa0 | n]) : Buffer.from([0xb8, n]);
  const pre: Uint8Array[] = [head];
  const post: Uint8Array[] = [];
  let past = false;
  for (const [k, v] of entries) {
    if (v === null) { pre.push(k); past = true; continue; }
    (past ? post : pre).push(k, v);
  }
  return { prefix: Buffer.concat(pre), suffix: Buffer.concat(post) };
}

const NONE_PARTS = encodeMapAround({ v: 1, status: 'none' }, 'pollAfter');

/** Complete CBOR "none" answers by pollAfter value (a few hundred distinct values at most). */
const noneBodies = new Map<number, Buffer>();
function noneBody(pollAfter: number): Buffer {
  let b = noneBodies.get(pollAfter);
  if (!b) {
    b = Buffer.concat([NONE_PARTS.prefix, encodeCbor(pollAfter), NONE_PARTS.suffix]);
    if (noneBodies.size < 4096) noneBodies.set(pollAfter, b);
  }
  return b;
}

/** Complete update bodies kept across all cached answers (one per pollAfter value each), bounded. */
const BODY_CACHE_MAX = 50_000;
let bodiesCached = 0;

/** The CBOR body of a poll answer, or null when it must go through the generic encoder. */
function pollCbor(a: PollAnswer): Buffer | null {
  if (a.status === 'none') return noneBody(a.pollAfter);
  if (a.status === 'update' && a.cached) {
    const entry = a.cached;
    const hit = entry.bodies?.get(a.pollAfter);
    if (hit) return hit;
    let parts = entry.encoded;
    if (!parts) {
      const { etag: _e, cached: _c, pollAfter: _p, ...rest } = entry.answer;
      parts = entry.encoded = encodeMapAround({ v: 1, ...rest }, 'pollAfter');
    }
    const body = Buffer.concat([parts.prefix, encodeCbor(a.pollAfter), parts.suffix]);
    if (bodiesCached < BODY_CACHE_MAX && (entry.bodies?.size ?? 0) < 32) {
      (entry.bodies ??= new Map()).set(a.pollAfter, body);
      bodiesCached++;
      // Released with the entry (answers live ANSWER_TTL_MS): give the budget back then.
      if (entry.bodies.size === 1) setTimeout(() => { bodiesCached -= entry.bodies?.size ?? 0; entry.bodies = undefined; }, 60_000).unref();
    }
    return body;
  }
  return null;
}

function sendPoll(req: Request, res: Response, a: PollAnswer): void {
  const body = wantsJson(req) ? null : pollCbor(a);
  if (!body) {
    const { etag: _e, ...rest } = a as PollAnswer & { retryAfter?: number; cached?: unknown };
    delete rest.retryAfter;
    delete rest.cached;
    send(req, res, 200, { v: 1, ...rest });
    return;
  }
  res.statusCode = 200;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', CBOR);
  res.end(body);
}

const bytes = (min: number, max: number) => z.union([
  z.instanceof(Uint8Array),
  z.string().max(max * 2).regex(/^[A-Za-z0-9_-]*$/, 'base64url').transform((s) => new Uint8Array(Buffer.from(s, 'base64url'))),
]).refine((b) => b.length >= min && b.length <= max, `must be ${min}..${max} bytes`);

const DeviceId = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII');
export const ChallengeRequest = z.object({ deviceId: DeviceId }).strict();
export const TokenRequest = z.object({ deviceId: DeviceId, challenge: bytes(32, 32), signature: bytes(64, 64) }).strict();

/** uint64: up to 20 digits (the value is range-checked against 2^64−1 after parsing). */
const SEQ = /^(0|[1-9][0-9]{0,19})$/;
const HEX64 = /^[0-9a-f]{64}$/;
const UUIDISH = /^[0-9A-Za-z-]{1,64}$/;

/**
 * The poll query straight from the URL when it is plain (`seq`, `digest`, `class`, no escapes, valid);
 * undefined sends the request through `pollQuery` (req.query), which also words the errors.
 */
function fastPollQuery(url: string): { seq: bigint | null; digest: string | null; classId: string | null } | undefined {
  const q = url.indexOf('?');
  const out = { seq: null as bigint | null, digest: null as string | null, classId: null as string | null };
  if (q < 0) return out;
  const qs = url.slice(q + 1);
  if (qs.includes('%') || qs.includes('+')) return undefined;
  for (const part of qs.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 'seq' && out.seq === null && SEQ.test(v)) out.seq = BigInt(v);
    else if (k === 'digest' && out.digest === null && HEX64.test(v)) out.digest = v;
    else if (k === 'class' && out.classId === null && UUIDISH.test(v)) out.classId = v;
    else return undefined;
  }
  return out.seq !== null && out.seq > MAX_SEQ ? undefined : out;
}

function pollQuery(req: Request): { seq: bigint | null; digest: string | null; classId: string | null } {
  const q = req.query as Record<string, unknown>;
  for (const k of Object.keys(q)) if (k !== 'seq' && k !== 'digest' && k !== 'class') throw new UpdateError('VALIDATION_FAILED', `unknown query parameter '${k}'`);
  const s = q['seq'];
  const dg = q['digest'];
  const cl = q['class'];
  if (s !== undefined && (typeof s !== 'string' || !SEQ.test(s) || BigInt(s) > MAX_SEQ)) throw new UpdateError('VALIDATION_FAILED', 'seq must be an integer 0..2^64-1 (decimal)');
  if (dg !== undefined && (typeof dg !== 'string' || !HEX64.test(dg))) throw new UpdateError('VALIDATION_FAILED', 'digest must be the sha256 of the current image, 64 lowercase hex');
  if (cl !== undefined && (typeof cl !== 'string' || !UUIDISH.test(cl))) throw new UpdateError('VALIDATION_FAILED', 'class must be the class UUID');
  return { seq: s === undefined ? null : BigInt(s), digest: (dg as string | undefined) ?? null, classId: (cl as string | undefined) ?? null };
}

/** Device bearer token → req.device; per-token rate limit. */
function deviceAuth(api: DeviceApi): RequestHandler {
  return (req, _res, next) => {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return next(new UpdateError('AUTH_REQUIRED', 'a device bearer token is required'));
    const hit = api.auth.resolveCached(h.slice(7));
    if (hit) {
      try {
        api.tokenLimiter.check(hit.hash, 'token');
      } catch (e) {
        return next(e);
      }
      req.device = { id: hit.deviceId, tokenHash: hit.hash };
      return next();
    }
    api.auth.resolve(h.slice(7)).then((r) => {
      api.tokenLimiter.check(r.hash, 'token');
      req.device = { id: r.deviceId, tokenHash: r.hash };
      next();
    }).catch(next);
  };
}

function requireDevice(req: Request): { id: string } {
  if (!req.device) throw new UpdateError('AUTH_REQUIRED', 'a device bearer token is required');
  return req.device;
}

function pollHeaders(res: Response, a: PollAnswer): void {
  res.setHeader('ETag', a.etag);
  res.setHeader('X-Poll-After', String(a.pollAfter));
  if (a.status === 'none' && a.retryAfter !== undefined) res.setHeader('Retry-After', String(a.retryAfter));
}

function etagMatches(req: Request, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (typeof inm !== 'string') return false;
  if (inm.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/**
 * `GET /device/v1/poll`. The hot path, written to cost little more than a bare route: when the token,
 * the device and its answer are cached it runs synchronously (one sha256 for the token, Map lookups, a
 * precomputed or spliced CBOR body, headers in one writeHead) and records its own metrics (bound label
 * children). Anything else (first poll, changed facts, kill switch, JSON, errors) takes the general
 * async path with identical results.
 */
export function pollHandler(ctx: ServerContext, api: DeviceApi): RequestHandler {
  const m = ctx.metrics;
  const outcomes = { none: m.polls.labels('none'), update: m.polls.labels('update'), paused: m.polls.labels('paused'), not_modified: m.polls.labels('not_modified') };
  const route = '/device/v1/poll';
  const ok = m.httpRequests.labels('GET', route, '200');
  const notModified = m.httpRequests.labels('GET', route, '304');
  const took = m.httpDuration.labels('GET', route);

  const slow = async (req: Request, res: Response, deviceId: string | undefined): Promise<void> => {
    let id = deviceId;
    if (id === undefined) {
      const h = req.headers.authorization;
      if (typeof h !== 'string' || !h.startsWith('Bearer ')) throw new UpdateError('AUTH_REQUIRED', 'a device bearer token is required');
      const r = await api.auth.resolve(h.slice(7));
      api.tokenLimiter.check(r.hash, 'token');
      req.device = { id: r.deviceId, tokenHash: r.hash };
      id = r.deviceId;
    }
    const a = await api.poll(id, pollQuery(req));
    respond(req, res, a);
  };

  // General path and errors: metrics like the app's access-log middleware (which this route runs ahead of).
  const track = (_req: Request, res: Response, t0: number): void => {
    res.once('finish', () => {
      m.httpRequests.inc({ method: 'GET', route, status: String(res.statusCode) });
      took.observe((performance.now() - t0) / 1000);
    });
  };

  const respond = (req: Request, res: Response, a: PollAnswer): void => {
    const unchanged = etagMatches(req, a.etag);
    outcomes[unchanged ? 'not_modified' : a.status].inc();
    if (unchanged) {
      pollHeaders(res, a);
      res.statusCode = 304;
      res.end();
      return;
    }
    const body = wantsJson(req) ? null : pollCbor(a);
    if (!body) {
      pollHeaders(res, a);
      sendPoll(req, res, a);
      return;
    }
    const retry = a.status === 'none' ? a.retryAfter : undefined;
    res.writeHead(200, retry === undefined
      ? ['Cache-Control', 'no-store', 'Content-Type', CBOR, 'ETag', a.etag, 'X-Poll-After', String(a.pollAfter)]
      : ['Cache-Control', 'no-store', 'Content-Type', CBOR, 'ETag', a.etag, 'X-Poll-After', String(a.pollAfter), 'Retry-After', String(retry)]);
    res.end(body);
  };

  return (req, res, next) => {
    const t0 = performance.now();
    res.locals['preferCbor'] = true;
    const h = req.headers.authorization;
    let deviceId: string | undefined;
    let a: PollAnswer | undefined;
    try {
      const hit = typeof h === 'string' && h.startsWith('Bearer ') ? api.auth.resolveCached(h.slice(7)) : undefined;
      if (hit) {
        const wait = api.tokenLimiter.take(hit.hash);
        if (wait > 0) throw new UpdateError('RATE_LIMITED', `too many requests for this token; retry in ${wait} s`, { details: { retryAfterSeconds: wait } });
        deviceId = hit.deviceId;
        const fq = fastPollQuery(req.url);
        a = api.pollCached(deviceId, fq ?? pollQuery(req));
        if (!a) req.device = { id: hit.deviceId, tokenHash: hit.hash };
      }
    } catch (e) {
      track(req, res, t0);
      next(e);
      return;
    }
    if (a) {
      respond(req, res, a);
      (res.statusCode === 304 ? notModified : ok).inc();
      took.observe((performance.now() - t0) / 1000);
      return;
    }
    track(req, res, t0);
    slow(req, res, deviceId).catch(next);
  };
}

export function deviceRouter(ctx: ServerContext, opts?: Partial<DeviceApiOptions>): Router {
  const api = deviceApi(ctx, opts);
  ctx.hooks.beforeClose ??= () => api.close();
  void api.init().catch((e: unknown) => ctx.log.error({ err: e }, 'device api init failed'));
  const r = Router();
  // Errors from this router are CBOR unless the device asked for JSON.
  r.use((_req, res, next) => { res.locals['preferCbor'] = true; next(); });

  const authed = deviceAuth(api);

  // --- poll (also mounted ahead of everything else by the app: see pollRoute) ---
  r.get('/poll', pollHandler(ctx, api));

  // --- authentication (no token yet; rate-limited per device id) ---
  r.post('/auth/challenge', parseBody(AUTH_BODY_MAX), async (req, res) => {
    const body = ChallengeRequest.parse(req.body ?? {});
    api.authLimiter.check(`c:${body.deviceId}`, 'device');
    const c = await api.auth.challenge(body.deviceId);
    send(req, res, 200, { challenge: c.challenge, expiresIn: c.expiresIn, sign: 'Ed25519 over CBOR ["suit-device-auth-v1", deviceId, challenge]' });
  });
  r.post('/auth/token', parseBody(AUTH_BODY_MAX), async (req, res) => {
    const body = TokenRequest.parse(req.body ?? {});
    api.authLimiter.check(`t:${body.deviceId}`, 'device');
    const t = await api.auth.token(body.deviceId, body.challenge, body.signature);
    send(req, res, 200, t);
  });

  // --- downloads: Range + resume, nothing written per request ---
  const download = (kind: 'payload' | 'delta' | 'envelope') => async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const dev = requireDevice(req);
    const id = req.params['id'];
    if (typeof id !== 'string' || (kind !== 'envelope' && !HEX64.test(id)) || (kind === 'envelope' && !HEX64.test(id))) throw new UpdateError('NOT_FOUND', 'no such object');
    const key = await api.downloadKey(dev.id, kind, id);
    const info = await ctx.objects.head(key);
    if (!info) throw new UpdateError('NOT_FOUND', 'the object is not in the store');
    const etag = `"${info.sha256 ?? id}"`;
    let range = undefined;
    try {
      // If-Range: a range only applies to the same representation.
      const ifRange = req.headers['if-range'];
      range = ifRange === undefined || ifRange === etag ? parseRangeHeader(req.headers.range, info.size) : undefined;
      if (range && range.start >= info.size) throw new UpdateError('RANGE_NOT_SATISFIABLE', `range starts past the end (${info.size} bytes)`);
    } catch (e) {
      res.setHeader('Content-Range', `bytes */${info.size}`);
      throw e;
    }
    const got = await ctx.objects.get(key, range);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, max-age=86400, immutable');
    res.setHeader('Content-Type', kind === 'envelope' ? 'application/suit-envelope+cose' : 'application/octet-stream');
    const len = got.end - got.start + 1;
    res.setHeader('Content-Length', String(info.size === 0 ? 0 : len));
    if (range) {
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${got.start}-${got.end}/${info.size}`);
    } else res.statusCode = 200;
    ctx.metrics.downloads.inc({ kind: range ? `${kind}_range` : kind });
    ctx.metrics.downloadBytes.inc(info.size === 0 ? 0 : len);
    if (req.method === 'HEAD') {
      got.body.destroy();
      res.end();
      return;
    }
    got.body.on('error', (e) => next(new UpdateError('STORAGE_UNAVAILABLE', 'object read failed', { cause: e })));
    got.body.pipe(res);
  };
  r.get('/payloads/:id', authed, download('payload'));
  r.get('/deltas/:id', authed, download('delta'));
  r.get('/releases/:id/envelope', authed, download('envelope'));

  // --- reports ---
  r.post('/assignments/:id/report', authed, parseBody(REPORT_BODY_MAX * 2), async (req, res) => {
    const dev = requireDevice(req);
    const id = req.params['id'];
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UpdateError('NOT_FOUND', 'no such assignment');
    const body = ReportBody.parse(req.body ?? {});
    const out = await api.report(dev.id, id, body);
    send(req, res, 200, { assignment: { id: out.assignment.id, state: out.assignment.state }, recorded: out.changed, rolloutState: out.rolloutState });
  });

  return r;
}
