import { UpdateError } from '../../manifest/index.js';

/**
 * Object keys are relative paths of safe segments. A segment may not start with '.', which rules out
 * '..' traversal and keeps the backends' private `.tmp` / `.uploads` / `.staging` areas unreachable.
 */
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}$/;

export function assertObjectKey(key: string): void {
  if (typeof key !== 'string' || !KEY_RE.test(key)) throw new UpdateError('VALIDATION_FAILED', `invalid object key '${String(key).slice(0, 80)}'`);
}

const HEX64 = /^[0-9a-f]{64}$/;
export function assertSha256Hex(s: string, what = 'sha256'): void {
  if (typeof s !== 'string' || !HEX64.test(s)) throw new UpdateError('VALIDATION_FAILED', `${what} must be 64 lowercase hex digits`);
}

/** Content-addressed key of a payload. */
export const payloadKey = (sha256: string): string => `payloads/${sha256}`;
/** Content-addressed key of a release envelope. */
export const envelopeKey = (sha256: string): string => `envelopes/${sha256}`;
