/**
 * Releases: a vendor-signed envelope, verified against that vendor's anchors, whose payloads are all
 * present with the signed digest and size. Immutable once recorded; only the deprecated flag moves.
 */
import { createHash } from 'node:crypto';
import { Router, type Request } from 'express';
import { UpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import { getAuth, requirePermission, tenantScope } from '../http/auth.js';
import { parseBody, sendData } from '../http/negotiate.js';
import { serveObject } from '../http/objects.js';
import { envelopeKey } from '../storage/index.js';
import type { ReleaseRecord, StateStore } from '../state/index.js';
import { z } from 'zod';
import { DeprecateReq, Sha256Hex, VendorOrClassId } from './schemas.js';
import { releaseView } from './views.js';
import { seqJson } from '../util/seq.js';

export const ENVELOPE_TYPES = ['application/suit-envelope+cose', 'application/cbor'];

/** Reads a raw body up to `limit` bytes (413 INPUT_TOO_LARGE beyond). */
export function readRaw(req: Request, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const len = req.headers['content-length'];
    if (len !== undefined && Number(len) > limit) {
      req.resume();
      return reject(new UpdateError('INPUT_TOO_LARGE', `body exceeds ${limit} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new UpdateError('INPUT_TOO_LARGE', `body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!done) { done = true; resolve(new Uint8Array(Buffer.concat(chunks))); } });
    req.on('error', (e) => { if (!done) { done = true; reject(new UpdateError('VALIDATION_FAILED', 'request body aborted', { cause: e })); } });
  });
}

/** Whether a tenant-scoped token may see a release (vendor-wide objects are shared by device fit). */
async function visible(store: StateStore, rel: ReleaseRecord, scope: string | undefined): Promise<boolean> {
  if (scope === undefined || rel.tenantId === scope) return true;
  const fit = await store.listDevices({ tenantId: scope, vendorId: rel.vendorId, classId: rel.classId, limit: 1 });
  return fit.items.length > 0;
}

export function releaseRoutes(ctx: ServerContext): Router {
  const r = Router();
  const { store, objects, config } = ctx;

  r.post('/releases', requirePermission('releases.write'), async (req, res) => {
    const a = getAuth(req);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!ENVELOPE_TYPES.includes(type)) {
      req.resume();
      throw new UpdateError('UNSUPPORTED_MEDIA_TYPE', `send the envelope as ${ENVELOPE_TYPES.join(' or ')}`);
    }
    // Limit → decode → signature → meaning.
    const bytes = await readRaw(req, config.envelopeMaxBytes);
    if (bytes.length === 0) throw new UpdateError('VALIDATION_FAILED', 'empty body');
    const id = createHash('sha256').update(bytes).digest('hex');
    const already = await store.getRelease(id);
    if (already) return sendData(req, res, 200, releaseView(already));

    const opened = ctx.verifier.open(bytes, { maxBytes: config.envelopeMaxBytes });
    const anchors = (await store.listAnchors(opened.claimedVendorId)).filter((k) => k.revokedAt === null);
    if (anchors.length === 0) throw new UpdateError('KEY_UNTRUSTED', `no trust anchors for vendor ${opened.claimedVendorId}`);
    const threshold = (await store.getPolicy(opened.claimedVendorId))?.threshold ?? 1;
    const keys = anchors.map((k) => ctx.verifier.parseKey(k.format === 'cose' ? new Uint8Array(Buffer.from(k.keyText, 'hex')) : k.keyText));
    const { signers, summary } = opened.verify(keys, { threshold });
    if (summary.vendorId !== opened.claimedVendorId) throw new UpdateError('VENDOR_MISMATCH', 'the verified manifest names another vendor');

    // Every payload the manifest names must be here, with the signed digest and size.
    for (const c of summary.components) {
      if (c.digest === null) continue;
      const p = await store.getPayload(c.digest);
      if (!p || !(await objects.head(p.objectKey))) {
        throw new UpdateError('PAYLOAD_MISSING', `component ${c.index}: payload ${c.digest} has not been uploaded`, { details: { sha256: c.digest } });
      }
      if (c.size !== null && p.size !== c.size) {
        throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `component ${c.index}: stored payload has ${p.size} bytes, the manifest says ${c.size}`);
      }
    }

    // The envelope object first (idempotent, content-addressed), then the row: a crash in between
    // leaves an unreferenced object, never a release without its envelope.
    const key = envelopeKey(id);
    await objects.put(key, bytes, { sha256: id, size: bytes.length });
    const rec: ReleaseRecord = {
      id, vendorId: summary.vendorId, classId: summary.classId, sequence: summary.sequence, version: summary.version,
      components: summary.components, envelopeKey: key, envelopeSha256: id, envelopeSize: bytes.length, signers,
      deprecated: false, tenantId: a.tenantId, createdBy: a.actor, createdAt: new Date().toISOString(),
    };
    const created = await store.transaction(async (tx) => {
      const same = await tx.getRelease(id);
      if (same) return { rec: same, created: false };
      const clash = await tx.findRelease(rec.vendorId, rec.classId, rec.sequence);
      if (clash) throw new UpdateError('CONFLICT', `release ${clash.id} already has sequence ${rec.sequence} for this class; releases are immutable`);
      await tx.insertRelease(rec);
      await ctx.audit({
        actor: a.actor, tenantId: a.tenantId, action: 'release.create', target: id,
        details: { vendorId: rec.vendorId, classId: rec.classId, sequence: seqJson(rec.sequence), version: rec.version, signers },
      }, tx);
      await ctx.hooks.onReleaseCreated?.(rec, tx);
      return { rec, created: true };
    });
    if (created.created) ctx.events.emit('release.created', created.rec);
    sendData(req, res, created.created ? 201 : 200, releaseView(created.rec));
  });

  r.get('/releases', requirePermission('read'), async (req, res) => {
    const q = z.object({
      vendorId: VendorOrClassId.optional(), classId: VendorOrClassId.optional(),
      includeDeprecated: z.enum(['true', 'false']).optional(),
      after: z.string().regex(/^\d{1,9}$/).optional(), limit: z.coerce.number().int().min(1).max(1000).optional(),
    }).parse(req.query);
    const scope = tenantScope(getAuth(req));
    const page = await store.listReleases({
      ...(q.vendorId ? { vendorId: q.vendorId } : {}), ...(q.classId ? { classId: q.classId } : {}),
      includeDeprecated: q.includeDeprecated === 'true', ...(q.after ? { after: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}),
      ...(scope !== undefined ? { visibleToTenant: scope } : {}),
    });
    sendData(req, res, 200, { items: page.items.map(releaseView), next: page.next });
  });

  const load = async (req: Request): Promise<ReleaseRecord> => {
    const id = Sha256Hex.parse(req.params['id']);
    const rel = await store.getRelease(id);
    if (!rel || !(await visible(store, rel, tenantScope(getAuth(req))))) throw new UpdateError('NOT_FOUND', `no release ${id}`);
    return rel;
  };

  r.get('/releases/:id', requirePermission('read'), async (req, res) => {
    sendData(req, res, 200, releaseView(await load(req)));
  });
  r.get('/releases/:id/inspect', requirePermission('read'), async (req, res) => {
    const rel = await load(req);
    const got = await objects.get(rel.envelopeKey);
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(c as Buffer);
    const view = ctx.verifier.inspect(new Uint8Array(Buffer.concat(chunks)), Math.max(config.envelopeMaxBytes, rel.envelopeSize));
    res.status(200).type('application/json').send(JSON.stringify(view, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
  });
  r.get('/releases/:id/envelope', requirePermission('read'), async (req, res) => {
    const rel = await load(req);
    await serveObject(ctx, req, res, rel.envelopeKey, { contentType: 'application/suit-envelope+cose', etag: `"${rel.envelopeSha256}"`, kind: 'envelope' });
  });
  r.post('/releases/:id/deprecate', requirePermission('releases.write'), parseBody(ctx.config.bodyLimitBytes), async (req, res) => {
    const a = getAuth(req);
    const rel = await load(req);
    const { deprecated } = DeprecateReq.parse(req.body ?? {});
    const updated = await store.transaction(async (tx) => {
      await tx.setReleaseDeprecated(rel.id, deprecated);
      await ctx.audit({ actor: a.actor, tenantId: a.tenantId, action: deprecated ? 'release.deprecate' : 'release.undeprecate', target: rel.id }, tx);
      return (await tx.getRelease(rel.id))!;
    });
    if (deprecated) ctx.events.emit('release.deprecated', updated);
    sendData(req, res, 200, releaseView(updated));
  });
  return r;
}
