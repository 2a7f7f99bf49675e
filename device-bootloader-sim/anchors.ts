/**
 * The device's trust-anchor store.
 *
 * Root: the initial anchor set burnt into OTP at manufacturing (never changes).
 * Current: the root advanced by the chain of signed anchor statements kept in the journal (one record,
 * so an update is atomic: after a cut the old chain or the new chain is current, never neither).
 * The chain is re-verified from the OTP root at every boot, so flash tampering cannot inject a key:
 * only statements signed by the previous set's threshold (and the new set's) are accepted
 * (manifest `verifyAnchorChain`, TUF-root style; docs/trust-anchors.md).
 */
import { UpdateError, decodeCbor, encodeCbor, decodeCoseKey, encodeCoseKey, keyThumbprint, type CborValue, type TrustedKey } from '../manifest/index.js';
import * as manifest from '../manifest/index.js';

/** Shape of manifest's AnchorSet (docs/manifest-api.md). */
export interface DeviceAnchorSet {
  version: number;
  keys: TrustedKey[];
  threshold: number;
  revoked: string[];
  owner?: unknown;
}

/** OTP encoding of the root set: [version, threshold, [COSE_Key bstr + roles...], [revoked kid...]]. */
export function encodeAnchorSetForOtp(set: DeviceAnchorSet): Uint8Array {
  return encodeCbor([
    set.version,
    set.threshold,
    set.keys.map((k) => [encodeCoseKey(k), (k.roles ?? ['firmware']) as CborValue]),
    set.revoked,
  ]);
}

export function decodeAnchorSetFromOtp(bytes: Uint8Array): DeviceAnchorSet {
  const v = decodeCbor(bytes, { maxBytes: 16 * 1024 });
  if (!Array.isArray(v) || v.length !== 4 || typeof v[0] !== 'number' || typeof v[1] !== 'number' || !Array.isArray(v[2]) || !Array.isArray(v[3])) {
    throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', 'OTP anchor set is malformed');
  }
  const keys = v[2].map((e) => {
    if (!Array.isArray(e) || !(e[0] instanceof Uint8Array) || !Array.isArray(e[1])) throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', 'OTP anchor key is malformed');
    const k = decodeCoseKey(e[0]);
    return { ...k, kid: k.kid || keyThumbprint(k), roles: e[1] as ('firmware' | 'anchors')[] };
  });
  return { version: v[0], threshold: v[1], keys, revoked: v[3].map(String) };
}

/** Journal encoding of the statement chain: CBOR array of the statements' exact bytes. */
export function encodeChain(statements: Uint8Array[]): Uint8Array {
  return encodeCbor(statements);
}

export function decodeChain(bytes: Uint8Array | undefined): Uint8Array[] {
  if (bytes === undefined) return [];
  const v = decodeCbor(bytes, { maxBytes: 64 * 1024 });
  if (!Array.isArray(v) || !v.every((x) => x instanceof Uint8Array)) throw new UpdateError('ANCHOR_STATEMENT_MALFORMED', 'stored anchor chain is malformed');
  return v as Uint8Array[];
}

type ChainVerifier = (start: DeviceAnchorSet, statements: Uint8Array[]) => DeviceAnchorSet;

/** manifest's verifyAnchorChain, adapted (statement bytes are decoded by it or by decodeAnchorStatement). */
function chainVerifier(): ChainVerifier {
  const m = manifest as unknown as Record<string, unknown>;
  const verify = m['verifyAnchorChain'] as ((s: unknown, st: unknown[]) => DeviceAnchorSet) | undefined;
  const decode = m['decodeAnchorStatement'] as ((b: Uint8Array) => unknown) | undefined;
  if (typeof verify !== 'function') {
    return () => {
      throw new UpdateError('ALGORITHM_UNSUPPORTED', 'this build has no trust-anchor statement support');
    };
  }
  return (start, statements) => {
    const stmts = typeof decode === 'function' ? statements.map((b) => decode(b)) : statements;
    return verify(start, stmts);
  };
}

/** Current anchors = OTP root advanced by the stored chain. Throws if the chain does not verify. */
export function currentAnchors(root: DeviceAnchorSet, chain: Uint8Array[]): DeviceAnchorSet {
  if (chain.length === 0) return root;
  return chainVerifier()(root, chain);
}

/** A short fingerprint of a set, for caching verification results per (envelope, key set). */
export function anchorFingerprint(set: DeviceAnchorSet): string {
  return `${set.version}:${set.threshold}:${set.keys.map((k) => k.kid).join(',')}:${set.revoked.join(',')}`;
}

/** Keys of the set that may sign firmware (role 'firmware', or no roles given). */
export function firmwareKeys(set: DeviceAnchorSet): TrustedKey[] {
  return set.keys.filter((k) => k.roles === undefined || k.roles.length === 0 || k.roles.includes('firmware'));
}
