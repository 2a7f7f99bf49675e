import { UpdateError } from '../../manifest/index.js';
import type { ByteRange } from './port.js';

/** Clamps a requested range to an object of `size` bytes (RFC 9110 §14.1.2 semantics). */
export function resolveRange(size: number, range?: ByteRange): { start: number; end: number } {
  if (!range) return { start: 0, end: Math.max(0, size - 1) };
  const { start } = range;
  if (!Number.isSafeInteger(start) || start < 0 || (range.end !== undefined && (!Number.isSafeInteger(range.end) || range.end < start))) {
    throw new UpdateError('VALIDATION_FAILED', 'invalid byte range');
  }
  if (start >= size) throw new UpdateError('RANGE_NOT_SATISFIABLE', `range starts at ${start}, object has ${size} bytes`, { details: { size } });
  return { start, end: Math.min(size - 1, range.end ?? size - 1) };
}

/**
 * Parses a single `Range: bytes=a-b | a- | -n` header. Multiple ranges are not supported (answered as
 * the full object, which RFC 9110 allows). Returns undefined for "no usable range".
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) throw new UpdateError('RANGE_NOT_SATISFIABLE', 'empty suffix range', { details: { size } });
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? undefined : Number(b);
  if (end !== undefined && end < start) return undefined;
  return end === undefined ? { start } : { start, end };
}
