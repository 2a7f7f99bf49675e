/**
 * Management endpoints for rollouts, under `/api/v1/rollouts` (bearer token; viewer+ reads,
 * operator/release-manager/admin act; tenant-scoped: other tenants' rollouts answer 404).
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { UpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import { authenticate, getAuth, requirePermission, tenantScope } from '../http/auth.js';
import { parseBody, sendData } from '../http/negotiate.js';
import { GLOBAL_SCOPE, killSwitches } from './kill-switch.js';
import type { RolloutAction } from './machine.js';
import { CreateRolloutSchema, ROLLOUT_STATES } from './model.js';
import { rolloutService } from './service.js';

const ListQuery = z.object({
  state: z.enum(ROLLOUT_STATES).optional(),
  after: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
}).strict();

export const KillSwitchBody = z.object({
  /** ISO-8601 time until which devices must not ask for updates (at most 30 days ahead). */
  until: z.iso.datetime({ offset: true }),
  reason: z.string().min(1).max(256),
  /** admin only: `"*"` for the whole server; tenant tokens always act on their tenant. */
  scope: z.string().min(1).max(128).optional(),
}).strict();

const ID = /^[A-Za-z0-9_-]{1,64}$/;
function idParam(req: Request): string {
  const id = req.params['id'];
  if (typeof id !== 'string' || !ID.test(id)) throw new UpdateError('NOT_FOUND', 'no such rollout');
  return id;
}

export function rolloutsRouter(ctx: ServerContext): Router {
  const r = Router();
  const svc = rolloutService(ctx);
  const kills = killSwitches(ctx);
  // The device view's "pending update" is what the device's open assignment says (no admission here).
  ctx.hooks.pendingUpdate ??= async (device) => {
    await svc.ready();
    const a = await svc.latestAssignment(device.id);
    const ro = a && a.state !== 'superseded' && a.state !== 'cancelled' && a.state !== 'confirmed' ? svc.servingRollout(a.rolloutId) : undefined;
    return a && ro ? { releaseId: a.releaseId, sequence: ro.sequence, source: `rollout:${ro.id}` } : null;
  };
  r.use(authenticate(ctx));

  r.post('/', requirePermission('rollouts.write'), parseBody(ctx.config.bodyLimitBytes), async (req, res) => {
    const a = getAuth(req);
    const body = CreateRolloutSchema.parse(req.body ?? {});
    const ro = await svc.create(body, { actor: a.actor, tenantId: a.tenantId });
    sendData(req, res, 201, await svc.view(ro.id, tenantScope(a)));
  });

  r.get('/', requirePermission('read'), async (req, res) => {
    const a = getAuth(req);
    const q = ListQuery.parse(req.query);
    const page = await svc.list({ tenantScope: tenantScope(a), ...q });
    sendData(req, res, 200, page);
  });

  // Kill switch (before /:id).
  const scopeFor = (req: Request, requested: string | undefined): string => {
    const a = getAuth(req);
    if (a.role === 'admin' && a.tenantId === null) return requested ?? GLOBAL_SCOPE;
    if (requested !== undefined && requested !== a.tenantId) throw new UpdateError('FORBIDDEN', 'a tenant token can only switch its own tenant');
    if (a.tenantId === null) throw new UpdateError('FORBIDDEN', 'no tenant');
    return a.tenantId;
  };
  r.get('/kill-switch', requirePermission('read'), async (req, res) => {
    const a = getAuth(req);
    const all = [...(await kills.load()).values()].filter((k) => tenantScope(a) === undefined || k.scope === a.tenantId || k.scope === GLOBAL_SCOPE);
    sendData(req, res, 200, { items: all });
  });
  r.put('/kill-switch', requirePermission('rollouts.write'), parseBody(ctx.config.bodyLimitBytes), async (req, res) => {
    const a = getAuth(req);
    const body = KillSwitchBody.parse(req.body ?? {});
    const until = Date.parse(body.until);
    if (until > Date.now() + 30 * 86400_000) throw new UpdateError('VALIDATION_FAILED', 'until: at most 30 days ahead');
    const k = { scope: scopeFor(req, body.scope), until: new Date(until).toISOString(), reason: body.reason, createdBy: a.actor, createdAt: new Date().toISOString() };
    await kills.set(k);
    sendData(req, res, 200, k);
  });
  r.delete('/kill-switch', requirePermission('rollouts.write'), async (req, res) => {
    const scope = scopeFor(req, typeof req.query['scope'] === 'string' ? req.query['scope'] : undefined);
    const gone = await kills.clear(scope, getAuth(req).actor);
    if (!gone) throw new UpdateError('NOT_FOUND', 'no kill switch in force for this scope');
    res.status(204).end();
  });

  r.get('/:id', requirePermission('read'), async (req, res) => {
    const a = getAuth(req);
    sendData(req, res, 200, await svc.view(idParam(req), tenantScope(a)));
  });

  for (const action of ['start', 'pause', 'resume', 'cancel', 'advance'] as const satisfies readonly RolloutAction[]) {
    r.post(`/:id/${action}`, requirePermission('rollouts.write'), async (req, res) => {
      const a = getAuth(req);
      const id = idParam(req);
      await svc.act(id, action, { actor: a.actor, tenantId: a.tenantId }, tenantScope(a));
      sendData(req, res, 200, await svc.view(id, tenantScope(a)));
    });
  }
  return r;
}
