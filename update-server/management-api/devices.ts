/** Devices (registration, claim, transfer, tags), groups, reports and the compliance summary. */
import { createHash, randomBytes } from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { UpdateError } from '../../manifest/index.js';
import { hashesEqual } from '../auth/tokens.js';
import type { PendingUpdateView, ServerContext } from '../context.js';
import { getAuth, requirePermission, tenantScope, type AuthContext } from '../http/auth.js';
import { sendData } from '../http/negotiate.js';
import type { DeviceRecord, Group, StateStore } from '../state/index.js';
import { newId } from '../util/ids.js';
import { ClaimReq, CreateGroupReq, Ident, PageQuery, RegisterDeviceReq, TagName, TagsReq, VendorOrClassId } from './schemas.js';
import { deviceView, groupView, reportView } from './views.js';
import { toSeq } from '../util/seq.js';

/** Claim codes are compared case-insensitively without separators (people type them off a label). */
export function hashClaimCode(code: string): string {
  const norm = code.replace(/[\s-]/g, '').toUpperCase();
  return createHash('sha256').update(`suit-claim:${norm}`).digest('hex');
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export function generateClaimCode(): string {
  const b = randomBytes(16);
  let s = '';
  for (let i = 0; i < 16; i++) s += ALPHABET[b[i]! % ALPHABET.length];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}-${s.slice(12)}`;
}

/** The tenant a write acts for: the token's, or (admin only) the one named in the body. */
function actingTenant(a: AuthContext, named: string | undefined): string {
  if (a.tenantId !== null) {
    if (named !== undefined && named !== a.tenantId) throw new UpdateError('FORBIDDEN', 'a tenant token acts only for its own tenant');
    return a.tenantId;
  }
  if (named === undefined) throw new UpdateError('VALIDATION_FAILED', 'tenantId: required for a token that spans tenants');
  return named;
}

export async function defaultPendingUpdate(device: DeviceRecord, store: StateStore): Promise<PendingUpdateView | null> {
  const latest = await store.latestRelease(device.vendorId, device.classId);
  if (!latest || (device.currentSeq !== null && device.currentSeq >= latest.sequence)) return null;
  return { releaseId: latest.id, sequence: latest.sequence, source: 'latest' };
}

export function deviceRoutes(ctx: ServerContext): Router {
  const r = Router();
  const { store } = ctx;

  const view = async (d: DeviceRecord) => deviceView(d, await (ctx.hooks.pendingUpdate ?? defaultPendingUpdate)(d, store));

  /** A device the token may see, else NOT_FOUND (no existence oracle across tenants). */
  const loadDevice = async (req: Request, s: StateStore = store, param = 'id'): Promise<DeviceRecord> => {
    const id = Ident.parse(req.params[param]);
    const d = await s.getDevice(id);
    const scope = tenantScope(getAuth(req));
    if (!d || (scope !== undefined && d.tenantId !== scope)) throw new UpdateError('NOT_FOUND', `no device ${id}`);
    return d;
  };
  const loadGroup = async (req: Request, s: StateStore = store): Promise<Group> => {
    const id = Ident.parse(req.params['id']);
    const g = await s.getGroup(id);
    const scope = tenantScope(getAuth(req));
    if (!g || (scope !== undefined && g.tenantId !== scope)) throw new UpdateError('NOT_FOUND', `no group ${id}`);
    return g;
  };

  // --- registration by the vendor ---
  r.post('/devices', requirePermission('devices.register'), async (req, res) => {
    const a = getAuth(req);
    const body = RegisterDeviceReq.parse(req.body);
    if (body.tenantId !== undefined && a.role !== 'admin') throw new UpdateError('FORBIDDEN', 'only admin registers a device directly into a tenant');
    // The identity key must parse (Ed25519 for the device API's challenge); refuse private keys.
    if (/PRIVATE KEY/.test(body.identityKey)) throw new UpdateError('KEY_MALFORMED', 'that is a private key; register the public key only');
    ctx.verifier.parseKey(body.identityKey.includes('-----BEGIN') ? body.identityKey : new Uint8Array(Buffer.from(z.string().regex(/^([0-9a-fA-F]{2})+$/, 'identityKey: PEM or hex').parse(body.identityKey), 'hex')));
    const claimCode = body.tenantId === undefined ? (body.claimCode ?? generateClaimCode()) : undefined;
    const now = new Date().toISOString();
    const device = await store.transaction(async (tx) => {
      if (body.tenantId !== undefined && !(await tx.getTenant(body.tenantId))) throw new UpdateError('NOT_FOUND', `no tenant ${body.tenantId}`);
      if (await tx.getDevice(body.id)) throw new UpdateError('CONFLICT', `device ${body.id} is already registered`);
      await tx.insertDevice({
        id: body.id, vendorId: body.vendorId, classId: body.classId, identityKey: body.identityKey, tenantId: body.tenantId ?? null,
        claimCodeHash: claimCode !== undefined ? hashClaimCode(claimCode) : null, currentSeq: body.currentSeq !== undefined ? toSeq(body.currentSeq)! : null,
        currentDigest: body.currentDigest ?? null, lastSeen: null, createdAt: now, updatedAt: now, tags: body.tags ?? [],
      });
      await ctx.audit({ actor: a.actor, tenantId: body.tenantId ?? null, action: 'device.register', target: body.id, details: { vendorId: body.vendorId, classId: body.classId } }, tx);
      return (await tx.getDevice(body.id))!;
    });
    ctx.events.emit('device.registered', device);
    // The claim code is returned once only when the server made it up; a supplied one is already known.
    sendData(req, res, 201, { device: await view(device), ...(claimCode !== undefined && body.claimCode === undefined ? { claimCode } : {}) });
  });

  // --- claim by an owner, release for transfer ---
  r.post('/devices/claim', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    const body = ClaimReq.parse(req.body);
    const tenantId = actingTenant(a, body.tenantId);
    const device = await store.transaction(async (tx) => {
      if (!(await tx.getTenant(tenantId))) throw new UpdateError('NOT_FOUND', `no tenant ${tenantId}`);
      const d = await tx.getDevice(body.deviceId);
      if (d && d.tenantId === tenantId) throw new UpdateError('CONFLICT', 'the device already belongs to this tenant');
      const ok = d !== null && d.tenantId === null && d.claimCodeHash !== null && hashesEqual(d.claimCodeHash, hashClaimCode(body.claimCode));
      if (!ok) throw new UpdateError('NOT_FOUND', 'no unclaimed device with that id and claim code');
      // The code is spent: a transfer issues a fresh one.
      await tx.updateDevice(d.id, { tenantId, claimCodeHash: null }, new Date().toISOString());
      await ctx.audit({ actor: a.actor, tenantId, action: 'device.claim', target: d.id }, tx);
      return (await tx.getDevice(d.id))!;
    });
    ctx.events.emit('device.claimed', device);
    sendData(req, res, 200, await view(device));
  });
  r.post('/devices/:id/release', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    const claimCode = generateClaimCode();
    const device = await store.transaction(async (tx) => {
      const d = await loadDevice(req, tx);
      if (d.tenantId === null) throw new UpdateError('CONFLICT', 'the device is not claimed');
      const at = new Date().toISOString();
      await tx.updateDevice(d.id, { tenantId: null, claimCodeHash: hashClaimCode(claimCode) }, at);
      await tx.setDeviceTags(d.id, [], at);
      await tx.removeDeviceFromAllGroups(d.id);
      await ctx.audit({ actor: a.actor, tenantId: d.tenantId, action: 'device.release', target: d.id }, tx);
      return (await tx.getDevice(d.id))!;
    });
    sendData(req, res, 200, { device: await view(device), claimCode });
  });

  r.get('/devices', requirePermission('read'), async (req, res) => {
    const q = PageQuery.extend({ classId: VendorOrClassId.optional(), vendorId: VendorOrClassId.optional(), tag: TagName.optional(), group: Ident.optional() }).parse(req.query);
    const scope = tenantScope(getAuth(req));
    const page = await store.listDevices({
      ...(scope !== undefined ? { tenantId: scope } : {}), ...(q.classId ? { classId: q.classId } : {}), ...(q.vendorId ? { vendorId: q.vendorId } : {}),
      ...(q.tag ? { tag: q.tag } : {}), ...(q.group ? { groupId: q.group } : {}), ...(q.after ? { after: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}),
    });
    sendData(req, res, 200, { items: await Promise.all(page.items.map(view)), next: page.next });
  });
  r.get('/devices/:id', requirePermission('read'), async (req, res) => {
    sendData(req, res, 200, await view(await loadDevice(req)));
  });
  r.put('/devices/:id/tags', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    const { tags } = TagsReq.parse(req.body);
    const device = await store.transaction(async (tx) => {
      const d = await loadDevice(req, tx);
      await tx.setDeviceTags(d.id, tags, new Date().toISOString());
      await ctx.audit({ actor: a.actor, tenantId: d.tenantId, action: 'device.tags', target: d.id, details: { tags } }, tx);
      return (await tx.getDevice(d.id))!;
    });
    sendData(req, res, 200, await view(device));
  });
  r.get('/devices/:id/reports', requirePermission('read'), async (req, res) => {
    const d = await loadDevice(req);
    const q = PageQuery.parse(req.query);
    const page = await store.listReports({ deviceId: d.id, ...(q.after ? { before: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}) });
    sendData(req, res, 200, { items: page.items.map(reportView), next: page.next });
  });

  // --- groups (per tenant) ---
  r.post('/groups', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    const body = CreateGroupReq.parse(req.body);
    const tenantId = actingTenant(a, body.tenantId);
    const g = await store.transaction(async (tx) => {
      if (!(await tx.getTenant(tenantId))) throw new UpdateError('NOT_FOUND', `no tenant ${tenantId}`);
      if (await tx.findGroup(tenantId, body.name)) throw new UpdateError('CONFLICT', `group ${body.name} exists`);
      const id = newId('grp');
      await tx.createGroup({ id, tenantId, name: body.name, createdAt: new Date().toISOString() });
      await ctx.audit({ actor: a.actor, tenantId, action: 'group.create', target: id, details: { name: body.name } }, tx);
      return (await tx.getGroup(id))!;
    });
    sendData(req, res, 201, groupView(g));
  });
  r.get('/groups', requirePermission('read'), async (req, res) => {
    const scope = tenantScope(getAuth(req));
    sendData(req, res, 200, { items: (await store.listGroups(scope)).map(groupView) });
  });
  r.get('/groups/:id', requirePermission('read'), async (req, res) => {
    sendData(req, res, 200, groupView(await loadGroup(req)));
  });
  r.delete('/groups/:id', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    await store.transaction(async (tx) => {
      const g = await loadGroup(req, tx);
      await tx.deleteGroup(g.id);
      await ctx.audit({ actor: a.actor, tenantId: g.tenantId, action: 'group.delete', target: g.id, details: { name: g.name } }, tx);
    });
    res.status(204).end();
  });
  r.put('/groups/:id/devices/:deviceId', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    const g = await store.transaction(async (tx) => {
      const g0 = await loadGroup(req, tx);
      const d = await loadDevice(req, tx, 'deviceId');
      if (d.tenantId !== g0.tenantId) throw new UpdateError('NOT_FOUND', `no device ${d.id} in tenant ${g0.tenantId}`);
      await tx.addGroupMember(g0.id, d.id);
      await ctx.audit({ actor: a.actor, tenantId: g0.tenantId, action: 'group.add', target: g0.id, details: { deviceId: d.id } }, tx);
      return (await tx.getGroup(g0.id))!;
    });
    sendData(req, res, 200, groupView(g));
  });
  r.delete('/groups/:id/devices/:deviceId', requirePermission('devices.write'), async (req, res) => {
    const a = getAuth(req);
    await store.transaction(async (tx) => {
      const g = await loadGroup(req, tx);
      const deviceId = Ident.parse(req.params['deviceId']);
      if (!(await tx.removeGroupMember(g.id, deviceId))) throw new UpdateError('NOT_FOUND', `device ${deviceId} is not in group ${g.name}`);
      await ctx.audit({ actor: a.actor, tenantId: g.tenantId, action: 'group.remove', target: g.id, details: { deviceId } }, tx);
    });
    res.status(204).end();
  });

  // --- reports and compliance ---
  r.get('/reports', requirePermission('read'), async (req, res) => {
    const q = PageQuery.parse(req.query);
    const scope = tenantScope(getAuth(req));
    const page = await store.listReports({ ...(scope !== undefined ? { tenantId: scope } : {}), ...(q.after ? { before: q.after } : {}), ...(q.limit ? { limit: q.limit } : {}) });
    sendData(req, res, 200, { items: page.items.map(reportView), next: page.next });
  });
  r.get('/compliance', requirePermission('read'), async (req, res) => {
    const scope = tenantScope(getAuth(req));
    sendData(req, res, 200, { items: await store.compliance(scope !== undefined ? { tenantId: scope } : {}) });
  });
  return r;
}
