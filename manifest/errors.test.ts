import { describe, expect, it } from 'vitest';
import { ERRORS, UpdateError, codeForReportByte, toUpdateError } from './errors.js';

describe('error table', () => {
  it('gives every code a distinct report byte', () => {
    const bytes = Object.values(ERRORS).map((r) => r.report);
    expect(new Set(bytes).size).toBe(bytes.length);
    for (const b of bytes) expect(b).toBeGreaterThan(0);
  });
  it('maps each code to an HTTP status and a sysexits exit code', () => {
    for (const [code, row] of Object.entries(ERRORS)) {
      expect(row.http, code).toBeGreaterThanOrEqual(400);
      expect(row.http, code).toBeLessThan(600);
      expect(row.exit, code).toBeGreaterThanOrEqual(64);
      expect(row.exit, code).toBeLessThanOrEqual(78);
    }
  });
  it('round-trips codes through report bytes', () => {
    for (const code of Object.keys(ERRORS)) {
      const e = new UpdateError(code as keyof typeof ERRORS, 'x');
      expect(codeForReportByte(e.reportCode)).toBe(code);
    }
  });
  it('wraps foreign errors with cause', () => {
    const inner = new RangeError('boom');
    const e = toUpdateError(inner, 'IO_ERROR');
    expect(e.code).toBe('IO_ERROR');
    expect(e.cause).toBe(inner);
  });
});
