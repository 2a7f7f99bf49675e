/**
 * The HTTP application: health, metrics, OpenAPI, the mounted routers, then one 404 and one terminal
 * error handler. Routers are contributed through `mounts.ts` (see README-internal.md).
 */
import express, { type Express } from 'express';
import type { ServerContext, Mount } from './context.js';
import { errorMiddleware, notFoundHandler } from './http/errors.js';
import { sendData } from './http/negotiate.js';
import { buildOpenApi } from './openapi.js';
import { defaultMounts } from './mounts.js';
import { UpdateError } from '../manifest/index.js';

export function createApp(ctx: ServerContext, mounts: readonly Mount[] = defaultMounts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  // Hot device routes first: no access-log closure, no router walk (they record their own metrics).
  for (const m of mounts) for (const e of m.early?.(ctx) ?? []) app.get(e.path, e.handler);

  // Access log + request metrics, labelled by the matched route (not the raw URL: bounded cardinality).
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const label = route ? `${req.baseUrl}${route}` : 'unmatched';
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      ctx.metrics.httpRequests.inc({ method: req.method, route: label, status: String(res.statusCode) });
      ctx.metrics.httpDuration.observe({ method: req.method, route: label }, secs);
      if (ctx.log.isLevelEnabled('debug')) ctx.log.debug({ method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(secs * 1000) }, 'request');
    });
    next();
  });

  app.get('/healthz', (req, res) => sendData(req, res, 200, { status: 'ok' }));
  app.get('/readyz', async (req, res, next) => {
    try {
      if (ctx.shuttingDown()) throw new UpdateError('STORAGE_UNAVAILABLE', 'shutting down');
      await ctx.store.ping();
      await ctx.objects.ping();
      sendData(req, res, 200, { status: 'ready' });
    } catch (e) {
      next(e instanceof UpdateError ? e : new UpdateError('STORAGE_UNAVAILABLE', 'a backing store is unavailable', { cause: e }));
    }
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    } catch (e) {
      next(e);
    }
  });
  const openapi = buildOpenApi(mounts);
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.type('application/json').send(JSON.stringify(openapi));
  });

  mountRouters(app, ctx, mounts);

  app.use(notFoundHandler);
  app.use(errorMiddleware(ctx.log));
  return app;
}

/** Mounts each router under its path. Exposed for tests that build an app from a custom list. */
export function mountRouters(app: Express, ctx: ServerContext, mounts: readonly Mount[]): void {
  for (const m of mounts) app.use(m.path, m.router(ctx));
}
