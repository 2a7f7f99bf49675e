/** Bearer-token authentication and role/tenant authorization middleware for `/api/v1`. */
import type { Request, RequestHandler } from 'express';
import { UpdateError } from '../../manifest/index.js';
import { resolveToken } from '../auth/tokens.js';
import { roleCan, type Permission } from '../auth/permissions.js';
import type { Role } from '../state/index.js';
import type { ServerContext } from '../context.js';

export interface AuthContext {
  tokenId: string;
  role: Role;
  /** null = admin spanning all tenants. */
  tenantId: string | null;
  /** Audit actor string: `token:<id>`. */
  actor: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
  }
}

/** Requires `Authorization: Bearer <token>`; sets `req.auth`. 401 AUTH_REQUIRED otherwise. */
export function authenticate(ctx: ServerContext): RequestHandler {
  return (req, _res, next) => {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(h) : null;
    if (!m) return next(new UpdateError('AUTH_REQUIRED', 'a bearer token is required'));
    resolveToken(ctx.store, m[1]!).then((rec) => {
      if (!rec) return next(new UpdateError('AUTH_REQUIRED', 'the token is unknown or revoked'));
      req.auth = { tokenId: rec.id, role: rec.role, tenantId: rec.tenantId, actor: `token:${rec.id}` };
      next();
    }, next);
  };
}

export function getAuth(req: Request): AuthContext {
  if (!req.auth) throw new UpdateError('AUTH_REQUIRED', 'a bearer token is required');
  return req.auth;
}

/** 403 FORBIDDEN unless the token's role has the permission. */
export function requirePermission(p: Permission): RequestHandler {
  return (req, _res, next) => {
    const a = req.auth;
    if (!a) return next(new UpdateError('AUTH_REQUIRED', 'a bearer token is required'));
    if (!roleCan(a.role, p)) return next(new UpdateError('FORBIDDEN', `role ${a.role} may not ${p}`));
    next();
  };
}

/**
 * The tenant filter to apply to queries: undefined for admin (all tenants), else the token's tenant.
 * Records of other tenants must then answer NOT_FOUND, never FORBIDDEN (no existence oracle).
 */
export function tenantScope(a: AuthContext): string | undefined {
  return a.role === 'admin' && a.tenantId === null ? undefined : (a.tenantId ?? '\u0000no-tenant');
}

/** True when the record (with its tenant) is visible to the token. */
export function canSeeTenant(a: AuthContext, recordTenantId: string | null): boolean {
  const scope = tenantScope(a);
  return scope === undefined || recordTenantId === scope;
}
