/**
 * The few DER (X.690) pieces that PKCS#8, SPKI, SEC1 and PBES2 need. Hand-written so that key files are
 * byte-for-byte what OpenSSL writes and reads, with no ASN.1 dependency. Reading is strict: definite
 * lengths in minimal form, no trailing bytes.
 */
import { UpdateError } from '../../errors.js';

export interface Tlv {
  tag: number;
  /** content bytes */
  value: Uint8Array;
  /** the whole TLV */
  raw: Uint8Array;
}

function bad(msg: string): UpdateError {
  return new UpdateError('KEY_MALFORMED', `DER: ${msg}`);
}

export function readTlv(buf: Uint8Array, pos: number): { tlv: Tlv; next: number } {
  if (pos + 2 > buf.length) throw bad('truncated');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw bad('multi-byte tags are not used here');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3) throw bad('unsupported length');
    if (p + n > buf.length) throw bad('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80 || (n > 1 && buf[p] === 0)) throw bad('non-minimal length');
    p += n;
  }
  if (p + len > buf.length) throw bad('truncated value');
  return { tlv: { tag, value: buf.subarray(p, p + len), raw: buf.subarray(pos, p + len) }, next: p + len };
}

/** Exactly one TLV filling `buf`. */
export function readOne(buf: Uint8Array, expectTag?: number): Tlv {
  const { tlv, next } = readTlv(buf, 0);
  if (next !== buf.length) throw bad('trailing bytes');
  if (expectTag !== undefined && tlv.tag !== expectTag) throw bad(`expected tag 0x${expectTag.toString(16)}, got 0x${tlv.tag.toString(16)}`);
  return tlv;
}

/** The children of a constructed value. */
export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < t.value.length) {
    const { tlv, next } = readTlv(t.value, p);
    out.push(tlv);
    p = next;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw bad(`${what} missing or of the wrong type`);
  return t;
}

function lenBytes(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  if (n < 0x10000) return [0x82, n >> 8, n & 0xff];
  return [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
}

export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((s, p) => s + p.length, 0);
  const head = Uint8Array.from([tag, ...lenBytes(len)]);
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, ...parts);
export const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const bitString = (b: Uint8Array): Uint8Array => tlv(0x03, Uint8Array.of(0), b);
export const nullValue = (): Uint8Array => Uint8Array.of(0x05, 0x00);

export function integer(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new UpdateError('INTERNAL', 'DER integer out of range');
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

export function readInteger(t: Tlv | undefined, what: string): number {
  const v = expectTag(t, 0x02, what).value;
  if (v.length === 0 || v.length > 6 || v[0]! & 0x80) throw bad(`${what} out of range`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** Encode a dotted OID. */
export function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const body: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const enc: number[] = [];
    let v = p;
    do {
      enc.unshift((v & 0x7f) | (enc.length ? 0x80 : 0));
      v = Math.floor(v / 128);
    } while (v > 0);
    body.push(...enc);
  }
  return tlv(0x06, Uint8Array.from(body));
}

export function readOid(t: Tlv | undefined, what: string): string {
  const v = expectTag(t, 0x06, what).value;
  if (v.length === 0) throw bad(`${what} empty`);
  const out = [Math.min(2, Math.floor(v[0]! / 40)), v[0]! - 40 * Math.min(2, Math.floor(v[0]! / 40))];
  let acc = 0;
  for (let i = 1; i < v.length; i++) {
    acc = acc * 128 + (v[i]! & 0x7f);
    if (!(v[i]! & 0x80)) {
      out.push(acc);
      acc = 0;
    }
  }
  return out.join('.');
}

export const OID = {
  ED25519: '1.3.101.112',
  EC_PUBLIC_KEY: '1.2.840.10045.2.1',
  P256: '1.2.840.10045.3.1.7',
  /** RFC 9708 id-alg-hss-lms-hashsig */
  HSS_LMS: '1.2.840.113549.1.9.16.3.17',
  PBES2: '1.2.840.113549.1.5.13',
  PBKDF2: '1.2.840.113549.1.5.12',
  SCRYPT: '1.3.6.1.4.1.11591.4.11',
  HMAC_SHA256: '1.2.840.113549.2.9',
  AES256_CBC: '2.16.840.1.101.3.4.1.42',
} as const;
