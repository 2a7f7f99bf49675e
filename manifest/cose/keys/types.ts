import type { KeyType } from '../algorithms/registry.js';

export type { KeyType };

/** What a trusted key may be used for in a trust-anchor set (docs/trust-anchors.md). */
export type KeyRole = 'firmware' | 'anchors';

/**
 * A key a verifier trusts: public key (or, for MACs, the shared secret) plus its identity.
 * `kid` is the RFC 9679 COSE key thumbprint (SHA-256) in lowercase hex; COSE headers carry it as
 * the 32 raw bytes unless `coseKid` names the key otherwise (e.g. `'kid-1'` in third-party vectors).
 */
export interface TrustedKey {
  kid: string;
  /** The algorithm the key was made for. Verification accepts every registered id of the same key
   *  type (P-256: -7 and -9; Ed25519: -8 and -19) unless the policy (`allowedAlgs`) narrows it. */
  alg: number;
  kty: KeyType;
  /** Ed25519: 32 bytes; P-256: 65-byte uncompressed SEC1 point; Symmetric: the secret; HSS-LMS: RFC 8554 public key. */
  publicKey: Uint8Array;
  /** The COSE kid bytes this key is referenced by, when not the thumbprint. */
  coseKid?: Uint8Array;
  /** Roles in a trust-anchor set; absent = firmware only. */
  roles?: KeyRole[];
}

/** A key that can sign. Private bytes are not reachable through this interface (see `exportPrivatePem`). */
export interface SigningKey {
  readonly kid: string;
  readonly alg: number;
  readonly kty: KeyType;
  publicKey(): TrustedKey;
  sign(data: Uint8Array): Uint8Array;
}
