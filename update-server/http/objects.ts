/** Serves an object from the store with Range / 206 / 416 and no per-request state (device downloads reuse it). */
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { UpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import { parseRangeHeader } from '../storage/index.js';

export async function serveObject(ctx: ServerContext, req: Request, res: Response, key: string, opts: { contentType?: string; etag?: string; kind?: string } = {}): Promise<void> {
  const head = await ctx.objects.head(key);
  if (!head) throw new UpdateError('NOT_FOUND', 'no such object');
  let range;
  try {
    range = parseRangeHeader(req.headers.range, head.size);
  } catch (e) {
    res.setHeader('Content-Range', `bytes */${head.size}`);
    throw e;
  }
  // If-Range with a stale validator means "send everything".
  if (range && opts.etag && req.headers['if-range'] !== undefined && req.headers['if-range'] !== opts.etag) range = undefined;
  if (range && range.start >= head.size) {
    res.setHeader('Content-Range', `bytes */${head.size}`);
    throw new UpdateError('RANGE_NOT_SATISFIABLE', `range starts at ${range.start}, object has ${head.size} bytes`);
  }
  const got = await ctx.objects.get(key, range);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', opts.contentType ?? 'application/octet-stream');
  if (opts.etag) res.setHeader('ETag', opts.etag);
  const length = head.size === 0 ? 0 : got.end - got.start + 1;
  res.setHeader('Content-Length', String(length));
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${got.start}-${got.end}/${head.size}`);
  } else res.status(200);
  ctx.metrics.downloads.inc({ kind: opts.kind ?? 'object' });
  if (req.method === 'HEAD') {
    got.body.destroy();
    res.end();
    return;
  }
  ctx.metrics.downloadBytes.inc(length);
  await pipeline(got.body, res);
}
