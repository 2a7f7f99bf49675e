import { describe, expect, it } from 'vitest';
import { classIdFrom, NAMESPACE_DNS, parseUuid, uuid5, uuidToString, vendorIdFromDomain } from './uuid.js';

describe('UUIDv5 (RFC 9562)', () => {
  it('gives the draft examples ids', () => {
    const vendor = vendorIdFromDomain('arm.com');
    expect(uuidToString(vendor)).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(uuidToString(uuid5(NAMESPACE_DNS, 'arm.com'))).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(uuidToString(classIdFrom(vendor, 'suit'))).toBe('1492af14-2569-5e48-bf42-9b2d51f2ab45');
    expect(uuidToString(classIdFrom('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe', new TextEncoder().encode('suit')))).toBe(
      '1492af14-2569-5e48-bf42-9b2d51f2ab45',
    );
  });
  it('RFC 9562 appendix A.4 (v5 of www.example.com)', () => {
    expect(uuidToString(uuid5(NAMESPACE_DNS, 'www.example.com'))).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
  it('parses and prints', () => {
    const s = '1492af14-2569-5e48-bf42-9b2d51f2ab45';
    expect(uuidToString(parseUuid(s))).toBe(s);
    expect(uuidToString(parseUuid(s.replace(/-/g, '').toUpperCase()))).toBe(s);
    expect(() => parseUuid('1492af14')).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => uuidToString(new Uint8Array(15))).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
