/**
 * The COSE signature/MAC algorithm registry.
 *
 * Adding an algorithm is one new file that calls `registerAlgorithm` and one import line in
 * `./index.ts`. Policy (which algorithms a verifier accepts) is not decided here but by the caller
 * (`verifyEnvelope`'s `allowedAlgs`).
 *
 * Contract for implementations (noble style): `verify` returns `false` for a signature that does not
 * verify *or is malformed* (wrong length, point not on the curve, ...) and never throws for bad
 * signature bytes; it throws `KEY_MALFORMED` only for a key of the wrong shape (caller misuse).
 */
import { UpdateError } from '../../errors.js';

export type KeyType = 'OKP' | 'EC2' | 'Symmetric' | 'HSS-LMS';

export interface SignatureAlgorithm {
  /** COSE algorithm id (IANA "COSE Algorithms"). */
  readonly id: number;
  /** IANA name, e.g. "ESP256". */
  readonly name: string;
  readonly kind: 'signature' | 'mac';
  /** The COSE key type whose keys this algorithm uses. */
  readonly keyType: KeyType;
  /**
   * Public key (or MAC secret) as raw bytes: Ed25519 32 bytes, P-256 SEC1 point (65 bytes
   * uncompressed or 33 compressed), HMAC secret, HSS-LMS public key (RFC 8554 §6.1 encoding).
   */
  verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  /** Stateless signing from raw private key bytes; absent for stateful algorithms (HSS-LMS). */
  sign?(privateKey: Uint8Array, data: Uint8Array): Uint8Array;
}

const registry = new Map<number, SignatureAlgorithm>();

export function registerAlgorithm(alg: SignatureAlgorithm): void {
  if (!Number.isSafeInteger(alg.id)) throw new UpdateError('USAGE', `algorithm id ${String(alg.id)} is not an integer`);
  registry.set(alg.id, alg);
}

/** The registered algorithm, or `ALGORITHM_UNSUPPORTED`. */
export function getAlgorithm(id: number): SignatureAlgorithm {
  const alg = registry.get(id);
  if (!alg) throw new UpdateError('ALGORITHM_UNSUPPORTED', `COSE algorithm ${id} is not supported`, { details: { alg: id } });
  return alg;
}

export function findAlgorithm(id: number): SignatureAlgorithm | undefined {
  return registry.get(id);
}

export function listAlgorithms(): SignatureAlgorithm[] {
  return [...registry.values()];
}

/** Which algorithm ids a key of this type can be used with (e.g. P-256 → -7 and -9). */
export function algorithmsForKeyType(kty: KeyType): number[] {
  return [...registry.values()].filter((a) => a.keyType === kty).map((a) => a.id);
}
