/**
 * The one terminal error handler. Every error becomes `{ error: { code, message } }` with the status of
 * its code in manifest/errors.ts. Anything that is not an UpdateError and not a recognised framework
 * error is a bug: it is logged with its stack and answered as INTERNAL with a fixed message, so
 * internals never leak.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { UpdateError } from '../../manifest/index.js';
import { sendData } from './negotiate.js';

/** Body-parser and other framework errors carry `type`/`status`; map them to table codes. */
export function toHttpError(err: unknown): UpdateError {
  if (err instanceof UpdateError) return err;
  if (err instanceof ZodError) {
    const first = err.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : 'body';
    return new UpdateError('VALIDATION_FAILED', `${where}: ${first?.message ?? 'invalid'}`, { cause: err });
  }
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; message?: unknown } | null;
  const type = typeof e?.type === 'string' ? e.type : undefined;
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (type === 'entity.too.large' || status === 413) return new UpdateError('INPUT_TOO_LARGE', 'request body exceeds the limit', { cause: err });
  if (type === 'entity.parse.failed') return new UpdateError('VALIDATION_FAILED', 'request body is not valid JSON', { cause: err });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported' || status === 415) return new UpdateError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding', { cause: err });
  if (type === 'request.aborted' || type === 'request.size.invalid' || type === 'stream.not.readable') return new UpdateError('VALIDATION_FAILED', 'request body was aborted or is inconsistent', { cause: err });
  if (status === 400) return new UpdateError('VALIDATION_FAILED', 'bad request', { cause: err });
  if (status === 404) return new UpdateError('NOT_FOUND', 'not found', { cause: err });
  return new UpdateError('INTERNAL', 'internal error', { cause: err });
}

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toHttpError(err);
    const status = e.http;
    if (e.code === 'INTERNAL') log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
    else if (status >= 500) log.warn({ code: e.code, msg: e.message, url: req.originalUrl }, 'server-side failure');
    if (res.headersSent) {
      // A stream broke after the head went out: the only honest signal left is to cut the connection.
      req.socket.destroy();
      return;
    }
    const retry = e.details?.['retryAfterSeconds'];
    if (typeof retry === 'number') res.setHeader('Retry-After', String(Math.ceil(retry)));
    const message = e.code === 'INTERNAL' ? 'internal error' : e.message;
    // Routers whose protocol defaults to CBOR (the device API) set res.locals.preferCbor.
    sendData(req, res, status, { error: { code: e.code, message } }, { preferCbor: res.locals['preferCbor'] === true });
  };
}

/** Terminal 404 for unmatched routes (before the error handler). */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new UpdateError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
};
