/** The management API, mounted at /api/v1: bearer token, JSON (CBOR when asked). */
import { Router } from 'express';
import type { Mount, ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { parseBody } from '../http/negotiate.js';
import { rateLimit } from '../http/rate-limit.js';
import { adminRoutes } from './admin.js';
import { deviceRoutes } from './devices.js';
import { managementOpenApi } from './openapi.js';
import { payloadRoutes } from './payloads.js';
import { releaseRoutes } from './releases.js';
import './schemas.js';

export function managementRouter(ctx: ServerContext): Router {
  const r = Router();
  r.use(authenticate(ctx));
  r.use(rateLimit({ ratePerSecond: ctx.config.tokenRatePerSecond, burst: ctx.config.tokenBurst, key: (req) => req.auth?.tokenId }));
  // Raw-body routes first (payload streams, envelopes), then the JSON/CBOR parser for the rest.
  r.use(payloadRoutes(ctx));
  r.use(releaseRoutes(ctx));
  r.use(parseBody(ctx.config.bodyLimitBytes));
  r.use(adminRoutes(ctx));
  r.use(deviceRoutes(ctx));
  return r;
}

export const managementMount: Mount = { path: '/api/v1', router: managementRouter, openapi: managementOpenApi };
export { recordReport, type ReportInput } from '../services/reports.js';
