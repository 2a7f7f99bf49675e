/**
 * PUT /payloads/{sha256}: streams to the object store, digest checked before anything is visible.
 * Whole-body uploads, or resumable ones with `Content-Range: bytes a-b/total` (query the offset with
 * GET /payloads/{sha256}/upload or `Content-Range: bytes *\/total`).
 */
import { Router, type Request } from 'express';
import { UpdateError, isUpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import { getAuth, requirePermission } from '../http/auth.js';
import { sendData } from '../http/negotiate.js';
import { serveObject } from '../http/objects.js';
import { payloadKey } from '../storage/index.js';
import type { StateStore } from '../state/index.js';
import { PageQuery, Sha256Hex } from './schemas.js';
import { payloadView } from './views.js';

type ContentRange = { kind: 'chunk'; start: number; end: number; total: number } | { kind: 'query'; total: number };

function parseContentRange(h: string | undefined): ContentRange | undefined {
  if (h === undefined) return undefined;
  let m = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(h.trim());
  if (m) {
    const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (end < start || end >= total) throw new UpdateError('VALIDATION_FAILED', 'Content-Range is inconsistent');
    return { kind: 'chunk', start, end, total };
  }
  m = /^bytes \*\/(\d{1,15})$/.exec(h.trim());
  if (m) return { kind: 'query', total: Number(m[1]) };
  throw new UpdateError('VALIDATION_FAILED', 'Content-Range must be "bytes a-b/total" or "bytes */total"');
}

/** Reads and discards the request body, then resolves. */
function drain(req: Request): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.resume();
  });
}

export function payloadRoutes(ctx: ServerContext): Router {
  const r = Router();
  const { store, objects, config } = ctx;

  const record = async (sha256: string, size: number, actor: string, tenantId: string | null) =>
    store.transaction(async (tx: StateStore) => {
      const existing = await tx.getPayload(sha256);
      if (existing) return { rec: existing, created: false };
      const rec = await tx.putPayload({ sha256, size, objectKey: payloadKey(sha256), createdAt: new Date().toISOString() });
      await ctx.audit({ actor, tenantId, action: 'payload.upload', target: sha256, details: { size } }, tx);
      return { rec, created: true };
    });

  r.put('/payloads/:sha256', requirePermission('payloads.write'), async (req, res) => {
    const a = getAuth(req);
    const sha256 = Sha256Hex.parse(req.params['sha256']);
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      await drain(req);
      throw new UpdateError('UNSUPPORTED_MEDIA_TYPE', 'payloads are uploaded as application/octet-stream');
    }
    const lenHeader = req.headers['content-length'];
    const length = lenHeader === undefined ? undefined : Number(lenHeader);
    if (length !== undefined && length > config.payloadMaxBytes) throw new UpdateError('INPUT_TOO_LARGE', `payloads are limited to ${config.payloadMaxBytes} bytes`);
    const range = parseContentRange(req.headers['content-range']);
    const key = payloadKey(sha256);

    // Idempotent: a payload already stored is acknowledged without storing anything again.
    const existing = await store.getPayload(sha256);
    if (existing && (await objects.head(key))) {
      await drain(req);
      return sendData(req, res, 200, payloadView(existing));
    }

    if (range === undefined) {
      await objects.put(key, req, { sha256, maxBytes: config.payloadMaxBytes, ...(length !== undefined ? { size: length } : {}) });
      const { rec, created } = await record(sha256, (await objects.head(key))!.size, a.actor, a.tenantId);
      return sendData(req, res, created ? 201 : 200, payloadView(rec));
    }

    if (range.total > config.payloadMaxBytes) throw new UpdateError('INPUT_TOO_LARGE', `payloads are limited to ${config.payloadMaxBytes} bytes`);
    if (range.kind === 'query') {
      await drain(req);
      const st = await objects.uploadStatus(key);
      if (!st) throw new UpdateError('NOT_FOUND', 'no upload in progress for this payload');
      res.setHeader('Upload-Offset', String(st.offset));
      return sendData(req, res, 200, { sha256, size: st.size, offset: st.offset, complete: false });
    }
    if (length !== undefined && length !== range.end - range.start + 1) throw new UpdateError('VALIDATION_FAILED', 'Content-Length does not match Content-Range');
    await objects.beginUpload(key, sha256, range.total);
    let st;
    try {
      st = await objects.appendUpload(key, range.start, req);
    } catch (e) {
      const off = isUpdateError(e) ? e.details?.['offset'] : undefined;
      if (typeof off === 'number') res.setHeader('Upload-Offset', String(off));
      throw e;
    }
    res.setHeader('Upload-Offset', String(st.offset));
    if (!st.complete) return sendData(req, res, 202, { sha256, size: st.size, offset: st.offset, complete: false });
    const { rec } = await record(sha256, st.size, a.actor, a.tenantId);
    return sendData(req, res, 201, payloadView(rec));
  });

  r.get('/payloads', requirePermission('read'), async (req, res) => {
    const q = PageQuery.parse(req.query);
    const page = await store.listPayloads(q.after, q.limit);
    sendData(req, res, 200, { items: page.items.map(payloadView), next: page.next });
  });
  r.get('/payloads/:sha256', requirePermission('read'), async (req, res) => {
    const sha256 = Sha256Hex.parse(req.params['sha256']);
    const p = await store.getPayload(sha256);
    if (!p) throw new UpdateError('NOT_FOUND', `no payload ${sha256}`);
    sendData(req, res, 200, payloadView(p));
  });
  r.get('/payloads/:sha256/upload', requirePermission('payloads.write'), async (req, res) => {
    const sha256 = Sha256Hex.parse(req.params['sha256']);
    const st = await objects.uploadStatus(payloadKey(sha256));
    if (!st) throw new UpdateError('NOT_FOUND', 'no upload in progress for this payload');
    sendData(req, res, 200, { sha256, size: st.size, offset: st.offset, complete: false });
  });
  r.delete('/payloads/:sha256/upload', requirePermission('payloads.write'), async (req, res) => {
    const sha256 = Sha256Hex.parse(req.params['sha256']);
    await objects.abortUpload(payloadKey(sha256));
    res.status(204).end();
  });
  r.get('/payloads/:sha256/content', requirePermission('read'), async (req, res) => {
    const sha256 = Sha256Hex.parse(req.params['sha256']);
    if (!(await store.getPayload(sha256))) throw new UpdateError('NOT_FOUND', `no payload ${sha256}`);
    await serveObject(ctx, req, res, payloadKey(sha256), { etag: `"${sha256}"`, kind: 'payload' });
  });
  return r;
}
