/**
 * A strict CBOR (RFC 8949) codec for untrusted input.
 *
 * Why our own and not a general library: SUIT and COSE need (1) the exact received bytes of a
 * nested item (digests and signatures are checked over received bytes, never a re-encoding),
 * (2) rejection of indefinite lengths, duplicate keys and trailing bytes, (3) a depth limit, and
 * (4) core deterministic encoding (RFC 8949 §4.2.1). Keeping it ~400 lines keeps it auditable.
 *
 * Data model:
 *   unsigned/negative int → number when it is a safe integer, otherwise bigint
 *   byte string → Uint8Array (a zero-copy view into the input)
 *   text string → string (UTF-8 validated)
 *   array → CborValue[];  map → Map (keys: number | bigint | string | boolean | null)
 *   tag → Tagged;  false/true/null/undefined → boolean/null/undefined;  floats → number
 * `spanOf(x)` returns the exact encoded bytes of any decoded byte string, array, map or Tagged.
 */
import { UpdateError } from './errors.js';

/**
 * Map keys. `Uint8Array[]` (an array of byte strings, i.e. a SUIT_Component_Identifier) only appears
 * when decoding with `allowComponentIdKeys` (SUIT_Text_LMap uses component ids as keys); such keys are
 * compared by their encoded bytes for duplicate detection (look them up by iterating, not `get`).
 */
export type CborKey = number | bigint | string | boolean | null | Uint8Array[];
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | Map<CborKey, CborValue>
  | Tagged
  | RawCbor
  | { [key: string]: CborValue };

/** A tagged item (major type 6). */
export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** Already-encoded CBOR, embedded byte for byte by the encoder (used to keep received bytes). */
export class RawCbor {
  constructor(readonly bytes: Uint8Array) {}
}

export interface DecodeOptions {
  /** Refuse input longer than this before decoding anything. Default 64 KiB. */
  maxBytes?: number;
  /** Maximum nesting of arrays, maps and tags. Default 32. */
  maxDepth?: number;
  /** Also require shortest-form heads and sorted map keys (RFC 8949 §4.2.1). Default false. */
  requireDeterministic?: boolean;
  /** Allow IEEE 754 floats. Default false: SUIT and COSE never need them. */
  allowFloats?: boolean;
  /** Accept map keys that are arrays of byte strings (SUIT_Text_LMap component keys). Default false. */
  allowComponentIdKeys?: boolean;
}

export const DEFAULT_MAX_BYTES = 64 * 1024;
export const DEFAULT_MAX_DEPTH = 32;

const spans = new WeakMap<object, Uint8Array>();

/** The exact encoded bytes (head included) of a decoded byte string, array, map or tag. */
export function spanOf(value: unknown): Uint8Array | undefined {
  return typeof value === 'object' && value !== null ? spans.get(value) : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

function malformed(msg: string, offset: number): UpdateError {
  return new UpdateError('CBOR_MALFORMED', `${msg} at byte ${offset}`, { details: { offset } });
}

class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly opts: Required<Omit<DecodeOptions, 'maxBytes'>>,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw malformed(`truncated: need ${n} more byte(s)`, this.pos);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /** Reads the argument of a head; returns number when safe, bigint otherwise. */
  arg(info: number, start: number): number | bigint {
    if (info < 24) return info;
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    let v: number | bigint;
    switch (info) {
      case 24:
        this.need(1);
        v = this.buf[this.pos]!;
        this.pos += 1;
        if (this.opts.requireDeterministic && v < 24) throw notPreferred(start);
        return v;
      case 25:
        this.need(2);
        v = dv.getUint16(this.pos);
        this.pos += 2;
        if (this.opts.requireDeterministic && v <= 0xff) throw notPreferred(start);
        return v;
      case 26:
        this.need(4);
        v = dv.getUint32(this.pos);
        this.pos += 4;
        if (this.opts.requireDeterministic && v <= 0xffff) throw notPreferred(start);
        return v;
      case 27: {
        this.need(8);
        const big = dv.getBigUint64(this.pos);
        this.pos += 8;
        if (this.opts.requireDeterministic && big <= 0xffffffffn) throw notPreferred(start);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case 31:
        throw new UpdateError('CBOR_INDEFINITE_LENGTH', `indefinite-length item at byte ${start}`, { details: { offset: start } });
      default:
        throw malformed(`reserved additional information ${info}`, start);
    }
  }

  /** A length: must fit in the remaining input (each element needs at least one byte). */
  length(info: number, start: number, minBytesPerUnit: number): number {
    const n = this.arg(info, start);
    const remaining = this.buf.length - this.pos;
    if (typeof n === 'bigint' || n * minBytesPerUnit > remaining) {
      throw malformed(`length ${n} exceeds the ${remaining} remaining byte(s)`, start);
    }
    return n;
  }

  item(depth: number): CborValue {
    const start = this.pos;
    const ib = this.byte();
    const major = ib >> 5;
    const info = ib & 0x1f;
    switch (major) {
      case 0:
        return this.arg(info, start);
      case 1: {
        const n = this.arg(info, start);
        return typeof n === 'number' && n < Number.MAX_SAFE_INTEGER ? -1 - n : normalizeInt(-1n - BigInt(n));
      }
      case 2: {
        const n = this.length(info, start, 1);
        const bytes = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        spans.set(bytes, this.buf.subarray(start, this.pos));
        return bytes;
      }
      case 3: {
        const n = this.length(info, start, 1);
        let s: string;
        try {
          s = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
        } catch (cause) {
          throw new UpdateError('CBOR_MALFORMED', `invalid UTF-8 in text string at byte ${start}`, { cause });
        }
        this.pos += n;
        return s;
      }
      case 4: {
        this.depth(depth, start);
        const n = this.length(info, start, 1);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        spans.set(out, this.buf.subarray(start, this.pos));
        return out;
      }
      case 5: {
        this.depth(depth, start);
        const n = this.length(info, start, 2);
        const out = new Map<CborKey, CborValue>();
        let prevKey: Uint8Array | undefined;
        let arrayKeys: Set<string> | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.item(depth + 1);
          const keyBytes = this.buf.subarray(keyStart, this.pos);
          if (this.opts.allowComponentIdKeys && Array.isArray(key) && key.every((x) => x instanceof Uint8Array)) {
            // Component-id keys are objects: detect duplicates by their encoded bytes.
            arrayKeys ??= new Set();
            const hex = toHex(keyBytes);
            if (arrayKeys.has(hex)) {
              throw new UpdateError('CBOR_DUPLICATE_KEY', `duplicate map key at byte ${keyStart}`, { details: { offset: keyStart } });
            }
            arrayKeys.add(hex);
          } else if (!isKey(key)) {
            throw new UpdateError('CBOR_UNSUPPORTED', `map key of unsupported type at byte ${keyStart}`, { details: { offset: keyStart } });
          }
          if (out.has(key)) {
            throw new UpdateError('CBOR_DUPLICATE_KEY', `duplicate map key ${String(key)} at byte ${keyStart}`, { details: { offset: keyStart, key: String(key) } });
          }
          if (this.opts.requireDeterministic && prevKey && compareBytes(prevKey, keyBytes) >= 0) {
            throw new UpdateError('CBOR_NOT_PREFERRED', `map keys not in deterministic order at byte ${keyStart}`, { details: { offset: keyStart } });
          }
          prevKey = keyBytes;
          out.set(key, this.item(depth + 1));
        }
        spans.set(out, this.buf.subarray(start, this.pos));
        return out;
      }
      case 6: {
        this.depth(depth, start);
        const tag = this.arg(info, start);
        if (typeof tag === 'bigint') throw new UpdateError('CBOR_UNSUPPORTED', `tag number too large at byte ${start}`);
        const t = new Tagged(tag, this.item(depth + 1));
        spans.set(t, this.buf.subarray(start, this.pos));
        return t;
      }
      default: {
        // major 7: simple values and floats
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info >= 25 && info <= 27) {
          if (!this.opts.allowFloats) throw new UpdateError('CBOR_UNSUPPORTED', `floating-point value at byte ${start}`);
          const n = info === 25 ? 2 : info === 26 ? 4 : 8;
          this.need(n);
          const dv = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
          this.pos += n;
          return n === 2 ? halfToNumber(dv.getUint16(0)) : n === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
        }
        if (info === 31) throw malformed('unexpected break code', start);
        if (info === 24) {
          this.need(1);
          this.pos++;
        } else if (info > 27) {
          throw malformed(`reserved additional information ${info}`, start);
        }
        throw new UpdateError('CBOR_UNSUPPORTED', `unassigned simple value at byte ${start}`);
      }
    }
  }

  depth(depth: number, start: number): void {
    if (depth >= this.opts.maxDepth) {
      throw new UpdateError('CBOR_TOO_DEEP', `nesting deeper than ${this.opts.maxDepth} at byte ${start}`, { details: { offset: start } });
    }
  }
}

function notPreferred(offset: number): UpdateError {
  return new UpdateError('CBOR_NOT_PREFERRED', `integer or length not in shortest form at byte ${offset}`, { details: { offset } });
}

function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function isKey(v: CborValue): v is CborKey {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean' || v === null;
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

/** Decode exactly one CBOR item from untrusted bytes (limit → decode; no trailing bytes). */
export function decodeCbor(bytes: Uint8Array, options: DecodeOptions = {}): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new UpdateError('CBOR_MALFORMED', 'input is not a byte array');
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.length > maxBytes) {
    throw new UpdateError('INPUT_TOO_LARGE', `input is ${bytes.length} bytes; the limit is ${maxBytes}`, {
      details: { size: bytes.length, limit: maxBytes },
    });
  }
  if (bytes.length === 0) throw malformed('empty input', 0);
  const r = new Reader(bytes, {
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    requireDeterministic: options.requireDeterministic ?? false,
    allowFloats: options.allowFloats ?? false,
    allowComponentIdKeys: options.allowComponentIdKeys ?? false,
  });
  let value: CborValue;
  try {
    value = r.item(0);
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    // A RangeError from deep recursion or similar: still a typed refusal, never a crash.
    throw new UpdateError('CBOR_MALFORMED', `undecodable CBOR: ${(e as Error).message}`, { cause: e });
  }
  if (r.pos !== bytes.length) {
    throw new UpdateError('CBOR_TRAILING_BYTES', `${bytes.length - r.pos} byte(s) after the CBOR item at byte ${r.pos}`, {
      details: { offset: r.pos },
    });
  }
  return value;
}

// ---------------------------------------------------------------- encoding (core deterministic)

class Writer {
  chunks: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  head(major: number, n: number | bigint): void {
    const m = major << 5;
    if (typeof n === 'bigint') {
      if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return this.head(major, Number(n));
      const b = new Uint8Array(9);
      b[0] = m | 27;
      new DataView(b.buffer).setBigUint64(1, n);
      return this.push(b);
    }
    if (n < 24) this.push(Uint8Array.of(m | n));
    else if (n <= 0xff) this.push(Uint8Array.of(m | 24, n));
    else if (n <= 0xffff) this.push(Uint8Array.of(m | 25, n >> 8, n & 0xff));
    else if (n <= 0xffffffff) {
      const b = new Uint8Array(5);
      b[0] = m | 26;
      new DataView(b.buffer).setUint32(1, n);
      this.push(b);
    } else {
      const b = new Uint8Array(9);
      b[0] = m | 27;
      new DataView(b.buffer).setBigUint64(1, BigInt(n));
      this.push(b);
    }
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

const MAX_U64 = (1n << 64n) - 1n;

function encodeInto(w: Writer, v: CborValue, depth: number): void {
  if (depth > 256) throw new UpdateError('CBOR_TOO_DEEP', 'value nests too deeply to encode');
  if (v === null) return w.push(Uint8Array.of(0xf6));
  if (v === undefined) return w.push(Uint8Array.of(0xf7));
  if (v === false) return w.push(Uint8Array.of(0xf4));
  if (v === true) return w.push(Uint8Array.of(0xf5));
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v >= 0 ? w.head(0, v) : w.head(1, -1 - v);
    const b = new Uint8Array(9);
    b[0] = 0xfb;
    new DataView(b.buffer).setFloat64(1, v);
    return w.push(b);
  }
  if (typeof v === 'bigint') {
    if (v >= 0n) {
      if (v > MAX_U64) throw new UpdateError('CBOR_UNSUPPORTED', 'integer larger than 2^64-1');
      return w.head(0, v);
    }
    const n = -1n - v;
    if (n > MAX_U64) throw new UpdateError('CBOR_UNSUPPORTED', 'integer smaller than -2^64');
    return w.head(1, n);
  }
  if (typeof v === 'string') {
    const b = utf8enc.encode(v);
    w.head(3, b.length);
    return w.push(b);
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    return w.push(v);
  }
  if (v instanceof RawCbor) return w.push(v.bytes);
  if (v instanceof Tagged) {
    w.head(6, v.tag);
    return encodeInto(w, v.value, depth + 1);
  }
  if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const x of v) encodeInto(w, x, depth + 1);
    return;
  }
  const entries: [CborValue, CborValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  // RFC 8949 §4.2.1: keys sorted by the bytewise order of their deterministic encodings.
  const encoded = entries.map(([k, val]) => [encodeCbor(k), val] as const);
  encoded.sort((a, b) => compareBytes(a[0], b[0]));
  for (let i = 1; i < encoded.length; i++) {
    if (compareBytes(encoded[i - 1]![0], encoded[i]![0]) === 0) throw new UpdateError('CBOR_DUPLICATE_KEY', 'duplicate map key while encoding');
  }
  w.head(5, encoded.length);
  for (const [k, val] of encoded) {
    w.push(k);
    encodeInto(w, val, depth + 1);
  }
}

/** Encode in RFC 8949 core deterministic form (shortest heads, sorted map keys, definite lengths). */
export function encodeCbor(value: CborValue): Uint8Array {
  const w = new Writer();
  encodeInto(w, value, 0);
  return w.result();
}

/** Bytewise lexicographic comparison; shorter wins on a common prefix. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

// ---------------------------------------------------------------- diagnostic notation (RFC 8949 §8)

export function toDiagnostic(v: CborValue, indent = ''): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Uint8Array) return `h'${toHex(v)}'`;
  if (v instanceof RawCbor) return toDiagnostic(decodeCbor(v.bytes, { maxBytes: Infinity, allowFloats: true }), indent);
  if (v instanceof Tagged) return `${v.tag}(${toDiagnostic(v.value, indent)})`;
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + toDiagnostic(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries: [CborValue, CborValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${toDiagnostic(k, inner)}: ${toDiagnostic(x, inner)}`).join(',\n')}\n${indent}}`;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new UpdateError('USAGE', 'not a hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
