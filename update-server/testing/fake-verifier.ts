/**
 * A stand-in for the manifest/ core in API tests: "envelopes" are JSON
 * `{ vendorId, classId, sequence, version?, components: [{digest,size}], signedBy: [kid] }` and "keys" are
 * `-----BEGIN PUBLIC KEY-----\nFAKE:<kid>\n-----END PUBLIC KEY-----`. It reproduces the core's error
 * codes (ENVELOPE_MALFORMED, KEY_UNTRUSTED, SIGNATURE_THRESHOLD_NOT_MET, KEY_MALFORMED) so the server's
 * handling of each is tested without real signatures.
 */
import { UpdateError } from '../../manifest/index.js';
import type { ParsedKey, ReleaseVerifier } from '../releases/verify.js';
import { summaryToRelease } from '../releases/verify.js';

export interface FakeEnvelope {
  vendorId: string;
  classId: string;
  /** A number, or a decimal string for values past 2^53−1 (decoded as bigint, like the CBOR core). */
  sequence: number | string;
  version?: string;
  components: { digest?: string; size?: number }[];
  signedBy: string[];
}

export const fakeKey = (kid: string): string => `-----BEGIN PUBLIC KEY-----\nFAKE:${kid}\n-----END PUBLIC KEY-----\n`;
export const fakeEnvelope = (e: FakeEnvelope): Buffer => Buffer.from(JSON.stringify(e));

function decode(bytes: Uint8Array, maxBytes: number): FakeEnvelope {
  if (bytes.length > maxBytes) throw new UpdateError('INPUT_TOO_LARGE', 'envelope too large');
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as FakeEnvelope;
    if (typeof v.vendorId !== 'string' || !Array.isArray(v.signedBy)) throw new Error('shape');
    return v;
  } catch (e) {
    throw new UpdateError('ENVELOPE_MALFORMED', 'not a (fake) envelope', { cause: e });
  }
}

function summary(v: FakeEnvelope): Record<string, unknown> {
  return {
    vendorId: v.vendorId, classId: v.classId, sequenceNumber: typeof v.sequence === 'string' ? BigInt(v.sequence) : v.sequence, version: v.version,
    components: v.components.map((c, index) => ({ index, id: ['00'], ...(c.digest ? { imageDigest: { alg: -16, hex: c.digest } } : {}), ...(c.size !== undefined ? { imageSize: c.size } : {}) })),
  };
}

export const fakeVerifier: ReleaseVerifier = {
  parseKey(key) {
    const text = typeof key === 'string' ? key : Buffer.from(key).toString('utf8');
    const m = /FAKE:([0-9a-f]+)/.exec(text);
    if (!m) throw new UpdateError('KEY_MALFORMED', 'not a (fake) key');
    return { kid: m[1]!, alg: '-8', handle: m[1] };
  },
  open(bytes, { maxBytes }) {
    const v = decode(bytes, maxBytes);
    return {
      claimedVendorId: v.vendorId.toLowerCase(),
      verify(keys: ParsedKey[], { threshold }) {
        const trusted = new Set(keys.map((k) => k.kid));
        const signers = [...new Set(v.signedBy.filter((k) => trusted.has(k)))];
        if (signers.length === 0) throw new UpdateError('KEY_UNTRUSTED', 'no trusted key signed');
        if (signers.length < threshold) throw new UpdateError('SIGNATURE_THRESHOLD_NOT_MET', `${signers.length} of ${threshold}`);
        return { signers, summary: summaryToRelease(summary(v)) };
      },
    };
  },
  inspect(bytes, maxBytes) {
    return summary(decode(bytes, maxBytes));
  },
};
