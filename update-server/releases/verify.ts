/**
 * The one adapter between the server and manifest/'s SUIT/COSE core: decode an envelope, verify it
 * against trust anchors with a k-of-n threshold, summarise it, parse public keys. Everything else in
 * the server depends on `ReleaseVerifier`, so tests can inject a fake and the core can evolve.
 *
 * The core is looked up by name at call time (it is being written in parallel); a missing function is
 * a deployment bug (INTERNAL), never a client error.
 */
import { MAX_SEQ } from '../util/seq.js';
import * as manifest from '../../manifest/index.js';
import { UpdateError } from '../../manifest/index.js';
import type { ReleaseComponent } from '../state/index.js';

export interface ParsedKey {
  /** Hex RFC 9679 thumbprint. */
  kid: string;
  alg: string;
  /** Opaque handle passed back to `verify`. */
  handle: unknown;
}

export interface ReleaseSummary {
  vendorId: string;
  classId: string;
  /** uint64 (util/seq.ts). */
  sequence: bigint;
  version: string | null;
  components: ReleaseComponent[];
}

export interface VerifiedRelease { signers: string[]; summary: ReleaseSummary }

/** A decoded, not yet verified envelope. */
export interface OpenedEnvelope {
  /**
   * The vendor the manifest claims, used only to pick that vendor's anchors; `verify` then proves it
   * (the signature covers the manifest that names the vendor).
   */
  claimedVendorId: string;
  /** Verify k-of-n against `keys`, then summarise. Throws the core's UpdateError codes. */
  verify(keys: ParsedKey[], opts: { threshold: number }): VerifiedRelease;
}

export interface ReleaseVerifier {
  /** PEM text or COSE_Key bytes. Throws KEY_MALFORMED. */
  parseKey(key: string | Uint8Array): ParsedKey;
  /** Limit → strict decode → shape. Throws the core's UpdateError codes. */
  open(envelope: Uint8Array, opts: { maxBytes: number }): OpenedEnvelope;
  /** The `suit-sign inspect --json` view of stored envelope bytes. */
  inspect(envelope: Uint8Array, maxBytes: number): unknown;
}

type AnyFn = (...args: unknown[]) => unknown;
function core(name: string): AnyFn {
  const f = (manifest as unknown as Record<string, unknown>)[name];
  if (typeof f !== 'function') throw new UpdateError('INTERNAL', `manifest core lacks ${name}()`);
  return f as AnyFn;
}

const hexOf = (v: unknown): string | null => {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'string') return v.toLowerCase();
  return null;
};

/** Reads the uint64 sequence number (the full SUIT range, 0..2^64-1, kept as bigint: see util/seq.ts). */
function toSequence(v: unknown): bigint {
  const n = typeof v === 'bigint' ? v : typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : null;
  if (n === null || n < 0n) throw new UpdateError('MANIFEST_MALFORMED', 'sequence number missing or negative');
  if (n > MAX_SEQ) throw new UpdateError('MANIFEST_MALFORMED', 'sequence number above 2^64-1');
  return n;
}

/** Maps the core's summary (docs/manifest-api.md `summarizeEnvelope`) to the fields a release records. */
export function summaryToRelease(s: Record<string, unknown>): ReleaseSummary {
  const vendorId = typeof s['vendorId'] === 'string' ? s['vendorId'].toLowerCase() : null;
  const classId = typeof s['classId'] === 'string' ? s['classId'].toLowerCase() : null;
  if (!vendorId || !classId) throw new UpdateError('MANIFEST_MALFORMED', 'the manifest names no vendor and class identifier; the server cannot file it');
  const comps = Array.isArray(s['components']) ? (s['components'] as Record<string, unknown>[]) : [];
  const components: ReleaseComponent[] = comps.map((c, i) => {
    const d = c['imageDigest'] as { alg?: unknown; hex?: unknown } | string | undefined;
    let digest: string | null = null;
    if (typeof d === 'string') digest = d.toLowerCase();
    else if (d && typeof d === 'object') {
      const alg = d.alg;
      if (alg !== undefined && alg !== -16 && alg !== 'sha-256' && alg !== 'SHA-256' && alg !== 'sha256') {
        throw new UpdateError('DIGEST_ALGORITHM_UNSUPPORTED', `component ${i}: the server indexes payloads by SHA-256 only`);
      }
      digest = hexOf(d.hex);
    }
    const size = c['imageSize'];
    return {
      index: typeof c['index'] === 'number' ? c['index'] : i,
      id: Array.isArray(c['id']) ? (c['id'] as unknown[]).map((x) => hexOf(x) ?? String(x)) : [],
      digest,
      size: typeof size === 'number' ? size : typeof size === 'bigint' ? Number(size) : typeof size === 'string' && /^\d+$/.test(size) ? Number(size) : null,
      uri: typeof c['uri'] === 'string' ? c['uri'] : null,
    };
  });
  const version = typeof s['version'] === 'string' ? s['version'] : null;
  return { vendorId, classId, sequence: toSequence(s['sequenceNumber']), version, components };
}

export const manifestVerifier: ReleaseVerifier = {
  parseKey(key) {
    const k = core('parsePublicKey')(typeof key === 'string' ? key : key) as { kid?: unknown; alg?: unknown };
    if (typeof k?.kid !== 'string') throw new UpdateError('KEY_MALFORMED', 'the key has no thumbprint');
    return { kid: k.kid.toLowerCase(), alg: String(k.alg), handle: k };
  },
  open(bytes, { maxBytes }) {
    const env = core('decodeEnvelope')(bytes, { maxBytes });
    const unverified = core('summarizeEnvelope')(env) as Record<string, unknown>;
    const claimed = typeof unverified['vendorId'] === 'string' ? unverified['vendorId'].toLowerCase() : '';
    if (!claimed) throw new UpdateError('MANIFEST_MALFORMED', 'the manifest names no vendor identifier');
    return {
      claimedVendorId: claimed,
      verify(keys, { threshold }) {
        const res = core('verifyEnvelope')(env, keys.map((k) => k.handle), { threshold }) as { signers?: unknown };
        const signers = Array.isArray(res?.signers) ? (res.signers as unknown[]).map(String) : [];
        // Summarise again after verification: only verified bytes give meaning (limit → shape → signature → meaning).
        return { signers, summary: summaryToRelease(core('summarizeEnvelope')(env) as Record<string, unknown>) };
      },
    };
  },
  inspect(bytes, maxBytes) {
    return core('summarizeEnvelope')(core('decodeEnvelope')(bytes, { maxBytes }));
  },
};
