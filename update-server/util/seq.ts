/**
 * SUIT sequence numbers are uint64 (0 … 2^64−1). The server keeps them as `bigint` everywhere.
 *
 * - Storage: a fixed-width, 20-digit zero-padded decimal TEXT column (`*_key`, migration 0004) that sorts
 *   like the number with a plain string compare on any SQL engine (SQLite BINARY, PostgreSQL any collation:
 *   same-length digit strings). The older 64-bit `bigint` columns are still written (NOT NULL / unique
 *   constraint from 0001) with the value's two's-complement int64 image (`seqLegacy`): unique and equal
 *   exactly when the numbers are, but not ordered above 2^63 — nothing reads them for order any more.
 * - JSON: a number when ≤ 2^53−1 (exact in every JSON parser), else a decimal string (`seqJson`).
 *   Inputs accept both forms (`SeqIn`). CBOR carries a plain CBOR unsigned integer (bigint encodes natively).
 */
import { z } from 'zod';
import { UpdateError } from '../../manifest/errors.js';

export type Seq = bigint;
export const MAX_SEQ = (1n << 64n) - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO64 = 1n << 64n;
const INT63 = (1n << 63n) - 1n;
const DEC = /^(0|[1-9][0-9]{0,19})$/;

/** 20-digit zero-padded decimal: the sortable storage form. */
export const seqKey = (s: bigint): string => s.toString().padStart(20, '0');
export const seqKeyOrNull = (s: bigint | null): string | null => (s === null ? null : seqKey(s));
export const seqFromKey = (k: string): bigint => BigInt(k);
export const seqFromKeyOrNull = (k: string | null | undefined): bigint | null => (k === null || k === undefined ? null : BigInt(k));
/** From a row: the key column, else (a row written without it) the legacy int64 column. */
export function seqFromRow(k: string | null | undefined, legacy: unknown): bigint | null {
  if (k !== null && k !== undefined) return BigInt(k);
  if (legacy === null || legacy === undefined) return null;
  const b = BigInt(legacy as number | bigint);
  return b < 0n ? b + TWO64 : b;
}
/** Two's-complement int64 image for the legacy `bigint` columns (bijective on uint64). */
export const seqLegacy = (s: bigint): bigint | number => (s > INT63 ? s - TWO64 : s <= SAFE ? Number(s) : s);
export const seqLegacyOrNull = (s: bigint | null): bigint | number | null => (s === null ? null : seqLegacy(s));

/** JSON form: number when ≤ 2^53−1, else decimal string. */
export const seqJson = (s: bigint): number | string => (s <= SAFE ? Number(s) : s.toString());
export const seqJsonOrNull = (s: bigint | null): number | string | null => (s === null ? null : seqJson(s));

/** A uint64 from a JS number (safe integer), a bigint, or a decimal string; undefined when not one. */
export function toSeq(v: unknown): bigint | undefined {
  let b: bigint | undefined;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && DEC.test(v)) b = BigInt(v);
  return b !== undefined && b >= 0n && b <= MAX_SEQ ? b : undefined;
}
export function parseSeq(v: unknown, what = 'sequence number'): bigint {
  const b = toSeq(v);
  if (b === undefined) throw new UpdateError('VALIDATION_FAILED', `${what} must be an integer 0..2^64-1 (a number up to 2^53-1 or a decimal string)`);
  return b;
}

const SEQ_DESC = 'SUIT sequence number (uint64): a JSON number when ≤ 2^53−1, otherwise a decimal string';
/**
 * Zod input: a safe-integer number or a decimal string 0..2^64−1 (validated, not transformed, so the
 * OpenAPI document can describe it; convert with `toSeq(v)!`).
 */
export const SeqIn = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(DEC)])
  .refine((v) => toSeq(v) !== undefined, 'must be an integer 0..2^64-1')
  .describe(SEQ_DESC);
/** Zod output schema (OpenAPI): number ≤ 2^53−1 or decimal string. */
export const SeqOut = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^[1-9][0-9]{15,19}$/)]).describe(SEQ_DESC);
