/**
 * Name-based UUIDs (RFC 9562 §5.5, version 5 = SHA-1) for SUIT vendor and class identifiers
 * (draft-ietf-suit-manifest-37 §8.4.8.1-2):
 *   vendor-id = UUID5(NAMESPACE_DNS, vendor domain)      e.g. "arm.com" → fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe
 *   class-id  = UUID5(vendor-id, class-specific info)     e.g. "suit"    → 1492af14-2569-5e48-bf42-9b2d51f2ab45
 * SHA-1 is what RFC 9562 specifies for v5; these ids are compatibility checks, not security anchors.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { UpdateError } from '../errors.js';

export const NAMESPACE_DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
export const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
export const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';

const utf8 = new TextEncoder();

/** Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (or 32 hex digits) into 16 bytes. */
export function parseUuid(s: string): Uint8Array {
  const hex = typeof s === 'string' ? s.trim().replace(/^urn:uuid:/i, '') : '';
  if (!/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(hex)) {
    throw new UpdateError('USAGE', `not a UUID: ${JSON.stringify(s)}`);
  }
  const clean = hex.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function uuidToString(b: Uint8Array): string {
  if (!(b instanceof Uint8Array) || b.length !== 16) throw new UpdateError('USAGE', 'a UUID is 16 bytes');
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** RFC 9562 UUIDv5: SHA-1(namespace ‖ name), first 16 bytes, version 5, variant 10. */
export function uuid5(namespace: Uint8Array | string, name: string | Uint8Array): Uint8Array {
  const ns = typeof namespace === 'string' ? parseUuid(namespace) : namespace;
  if (!(ns instanceof Uint8Array) || ns.length !== 16) throw new UpdateError('USAGE', 'a UUID namespace is 16 bytes');
  const n = typeof name === 'string' ? utf8.encode(name) : name;
  const input = new Uint8Array(16 + n.length);
  input.set(ns, 0);
  input.set(n, 16);
  const out = sha1(input).slice(0, 16);
  out[6] = (out[6]! & 0x0f) | 0x50;
  out[8] = (out[8]! & 0x3f) | 0x80;
  return out;
}

/** SUIT vendor id from the vendor's DNS domain. */
export function vendorIdFromDomain(domain: string): Uint8Array {
  return uuid5(NAMESPACE_DNS, domain);
}

/** SUIT class id from the vendor id and class-specific information (model, hardware revision, ...). */
export function classIdFrom(vendorId: Uint8Array | string, info: string | Uint8Array): Uint8Array {
  return uuid5(vendorId, info);
}
