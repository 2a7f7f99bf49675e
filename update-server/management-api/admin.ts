/** Tenants, tokens, trust anchors and the audit log. */
import { Router } from 'express';
import { z } from 'zod';
import { UpdateError } from '../../manifest/index.js';
import { issueToken } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import { getAuth, requirePermission, tenantScope } from '../http/auth.js';
import { sendData } from '../http/negotiate.js';
import { AddAnchorReq, CreateTenantReq, CreateTokenReq, PolicyReq, VendorOrClassId } from './schemas.js';
import { anchorView, tokenView } from './views.js';

export function adminRoutes(ctx: ServerContext): Router {
  const r = Router();
  const store = ctx.store;

  // --- tenants (admin) ---
  r.post('/tenants', requirePermission('tenants.manage'), async (req, res) => {
    const a = getAuth(req);
    const body = CreateTenantReq.parse(req.body);
    const t = { id: body.id, name: body.name, createdAt: new Date().toISOString() };
    await store.transaction(async (tx) => {
      if (await tx.getTenant(t.id)) throw new UpdateError('CONFLICT', `tenant ${t.id} exists`);
      await tx.createTenant(t);
      await ctx.audit({ actor: a.actor, tenantId: t.id, action: 'tenant.create', target: t.id, details: { name: t.name } }, tx);
    });
    sendData(req, res, 201, t);
  });
  r.get('/tenants', requirePermission('read'), async (req, res) => {
    const scope = tenantScope(getAuth(req));
    const all = await store.listTenants();
    sendData(req, res, 200, { items: scope === undefined ? all : all.filter((t) => t.id === scope) });
  });

  // --- tokens (admin) ---
  r.post('/tokens', requirePermission('tokens.manage'), async (req, res) => {
    const a = getAuth(req);
    const body = CreateTokenReq.parse(req.body);
    const tenantId = body.tenantId ?? null;
    const issued = await store.transaction(async (tx) => {
      if (tenantId !== null && !(await tx.getTenant(tenantId))) throw new UpdateError('NOT_FOUND', `no tenant ${tenantId}`);
      const it = await issueToken(tx, { role: body.role, tenantId, label: body.label });
      await ctx.audit({ actor: a.actor, tenantId, action: 'token.create', target: it.record.id, details: { role: body.role, label: body.label } }, tx);
      return it;
    });
    sendData(req, res, 201, { ...tokenView(issued.record), token: issued.secret });
  });
  r.get('/tokens', requirePermission('tokens.manage'), async (req, res) => {
    sendData(req, res, 200, { items: (await store.listTokens()).map(tokenView) });
  });
  r.delete('/tokens/:id', requirePermission('tokens.manage'), async (req, res) => {
    const a = getAuth(req);
    const id = String(req.params['id']);
    await store.transaction(async (tx) => {
      const t = await tx.getToken(id);
      if (!t) throw new UpdateError('NOT_FOUND', `no token ${id}`);
      if (!(await tx.revokeToken(id, new Date().toISOString()))) throw new UpdateError('CONFLICT', 'token already revoked');
      await ctx.audit({ actor: a.actor, tenantId: t.tenantId, action: 'token.revoke', target: id }, tx);
    });
    res.status(204).end();
  });

  // --- trust anchors: vendor public keys + k-of-n policy ---
  const anchorSet = async (vendorId: string) => {
    const [keys, policy] = await Promise.all([store.listAnchors(vendorId), store.getPolicy(vendorId)]);
    return { vendorId, threshold: policy?.threshold ?? 1, keys: keys.map(anchorView) };
  };
  r.get('/anchors', requirePermission('read'), async (req, res) => {
    const vendors = [...new Set((await store.listAnchors()).map((k) => k.vendorId))];
    sendData(req, res, 200, { items: await Promise.all(vendors.map(anchorSet)) });
  });
  r.get('/anchors/:vendorId', requirePermission('read'), async (req, res) => {
    const vendorId = VendorOrClassId.parse(req.params['vendorId']);
    const set = await anchorSet(vendorId);
    if (set.keys.length === 0 && !(await store.getPolicy(vendorId))) throw new UpdateError('NOT_FOUND', `no anchors for vendor ${vendorId}`);
    sendData(req, res, 200, set);
  });
  r.post('/anchors/:vendorId/keys', requirePermission('anchors.write'), async (req, res) => {
    const a = getAuth(req);
    const vendorId = VendorOrClassId.parse(req.params['vendorId']);
    const body = AddAnchorReq.parse(req.body);
    let input: string | Uint8Array = body.key;
    if (body.format === 'cose') {
      if (!/^([0-9a-fA-F]{2})+$/.test(body.key)) throw new UpdateError('KEY_MALFORMED', 'a COSE_Key is given as hex');
      input = new Uint8Array(Buffer.from(body.key, 'hex'));
    } else if (!body.key.includes('-----BEGIN')) {
      throw new UpdateError('KEY_MALFORMED', 'expected a PEM public key');
    } else if (/PRIVATE KEY/.test(body.key)) {
      // The server must never hold signing material, not even by accident.
      throw new UpdateError('KEY_MALFORMED', 'that is a private key; upload the public key only');
    }
    const parsed = ctx.verifier.parseKey(input);
    const anchor = {
      vendorId, kid: parsed.kid, alg: parsed.alg, format: body.format, keyText: body.format === 'cose' ? body.key.toLowerCase() : body.key,
      createdAt: new Date().toISOString(), revokedAt: null,
    };
    const created = await store.transaction(async (tx) => {
      const existing = (await tx.listAnchors(vendorId)).find((k) => k.kid === parsed.kid);
      if (existing && existing.revokedAt === null) return false;
      if (existing) throw new UpdateError('CONFLICT', `key ${parsed.kid} was revoked; revoked keys stay revoked`);
      await tx.upsertAnchor(anchor);
      await ctx.audit({ actor: a.actor, tenantId: null, action: 'anchor.add', target: `${vendorId}/${parsed.kid}`, details: { alg: parsed.alg, format: body.format } }, tx);
      return true;
    });
    const stored = (await store.listAnchors(vendorId)).find((k) => k.kid === parsed.kid)!;
    sendData(req, res, created ? 201 : 200, anchorView(stored));
  });
  r.delete('/anchors/:vendorId/keys/:kid', requirePermission('anchors.write'), async (req, res) => {
    const a = getAuth(req);
    const vendorId = VendorOrClassId.parse(req.params['vendorId']);
    const kid = z.string().regex(/^[0-9a-fA-F]{1,128}$/).parse(req.params['kid']).toLowerCase();
    await store.transaction(async (tx) => {
      if (!(await tx.revokeAnchor(vendorId, kid, new Date().toISOString()))) throw new UpdateError('NOT_FOUND', `no active key ${kid} for vendor ${vendorId}`);
      await ctx.audit({ actor: a.actor, tenantId: null, action: 'anchor.revoke', target: `${vendorId}/${kid}` }, tx);
    });
    res.status(204).end();
  });
  r.put('/anchors/:vendorId/policy', requirePermission('anchors.write'), async (req, res) => {
    const a = getAuth(req);
    const vendorId = VendorOrClassId.parse(req.params['vendorId']);
    const { threshold } = PolicyReq.parse(req.body);
    await store.transaction(async (tx) => {
      await tx.setPolicy({ vendorId, threshold, updatedAt: new Date().toISOString() });
      await ctx.audit({ actor: a.actor, tenantId: null, action: 'anchor.policy', target: vendorId, details: { threshold } }, tx);
    });
    sendData(req, res, 200, await anchorSet(vendorId));
  });

  // --- audit log (tenant tokens see their tenant's entries) ---
  r.get('/audit', requirePermission('read'), async (req, res) => {
    const q = z.object({
      after: z.coerce.number().int().min(0).optional(),
      limit: z.coerce.number().int().min(1).max(1000).optional(),
    }).parse(req.query);
    const limit = q.limit ?? 100;
    const scope = tenantScope(getAuth(req));
    const items = await store.listAudit({ ...(q.after !== undefined ? { after: q.after } : {}), limit: limit + 1, ...(scope !== undefined ? { tenantId: scope } : {}) });
    const pageItems = items.slice(0, limit);
    sendData(req, res, 200, { items: pageItems, next: items.length > limit ? String(pageItems[pageItems.length - 1]!.seq) : null });
  });

  return r;
}
