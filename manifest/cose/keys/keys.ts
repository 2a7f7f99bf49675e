/**
 * Parsing, generating and exporting keys. One key id everywhere: the RFC 9679 thumbprint.
 * Private bytes stay inside `SoftwareSigningKey` (a #private field, hidden from JSON and inspect);
 * `exportPrivatePem` is the only way out. No message here ever contains key bytes.
 */
import { inspect } from 'node:util';
import { fromHex } from '../../cbor.js';
import { UpdateError } from '../../errors.js';
import { ed25519GenerateSecret, ed25519PublicKey } from '../algorithms/ed25519.js';
import { p256GenerateSecret, p256IsValidPoint, p256PublicKey, p256Uncompressed } from '../algorithms/p256.js';
import { getAlgorithm, type KeyType } from '../algorithms/registry.js';
import { decodeCoseKey, keyThumbprint } from './cose-key.js';
import { encryptPkcs8, parsePrivatePem, parseSpki, pemDecode, pemEncode, pkcs8Der, spkiDer, type RawKey } from './pem.js';
import type { SigningKey, TrustedKey } from './types.js';

export type KeyAlgName = 'ed25519' | 'p256' | 'hss-lms' | 'hmac';

const KIND_KTY: Record<RawKey['kind'], KeyType> = { ed25519: 'OKP', p256: 'EC2', 'hss-lms': 'HSS-LMS' };
const DEFAULT_ALG: Record<KeyType, number> = { OKP: -19, EC2: -9, Symmetric: 5, 'HSS-LMS': -46 };

/** Which key type an algorithm id or name needs. */
export function keyTypeFor(alg: number | KeyAlgName): KeyType {
  if (typeof alg === 'number') return getAlgorithm(alg).keyType;
  return ({ ed25519: 'OKP', p256: 'EC2', 'hss-lms': 'HSS-LMS', hmac: 'Symmetric' } as const)[alg];
}

function trusted(kty: KeyType, publicKey: Uint8Array, alg?: number): TrustedKey {
  return { kid: keyThumbprint({ kty, publicKey }), alg: alg ?? DEFAULT_ALG[kty], kty, publicKey };
}

/**
 * A software key whose private bytes are only reachable through `exportPrivatePem`.
 * For HSS-LMS keys use `HssLmsSigner` (algorithms/hss-lms.ts), which is stateful.
 */
export class SoftwareSigningKey implements SigningKey {
  readonly #secret: Uint8Array;
  readonly #pub: TrustedKey;
  constructor(kty: KeyType, secret: Uint8Array, publicKey: Uint8Array, alg?: number) {
    this.#secret = secret;
    this.#pub = trusted(kty, publicKey, alg);
    const a = getAlgorithm(this.#pub.alg);
    if (a.keyType !== kty || !a.sign) throw new UpdateError('ALGORITHM_UNSUPPORTED', `algorithm ${this.#pub.alg} cannot sign with a ${kty} key`);
  }
  get kid(): string {
    return this.#pub.kid;
  }
  get alg(): number {
    return this.#pub.alg;
  }
  get kty(): KeyType {
    return this.#pub.kty;
  }
  publicKey(): TrustedKey {
    return { ...this.#pub, publicKey: new Uint8Array(this.#pub.publicKey) };
  }
  sign(data: Uint8Array): Uint8Array {
    return getAlgorithm(this.#pub.alg).sign!(this.#secret, data);
  }
  /** Same key, other algorithm id of the same key type (e.g. -7 instead of -9). */
  withAlg(alg: number): SoftwareSigningKey {
    return new SoftwareSigningKey(this.kty, this.#secret, this.#pub.publicKey, alg);
  }
  toJSON(): { kid: string; alg: number; kty: KeyType } {
    return { kid: this.kid, alg: this.alg, kty: this.kty };
  }
  [inspect.custom](): string {
    return `SigningKey { kid: '${this.kid}', alg: ${this.alg}, kty: '${this.kty}' }`;
  }
  /** @internal for exportPrivatePem only */
  static secretOf(k: SoftwareSigningKey): Uint8Array {
    return k.#secret;
  }
}

/** HSS-LMS hooks, installed by algorithms/hss-lms.ts (keeps this file free of an import cycle). */
export interface HssLmsKeyHooks {
  fromPrivate(secret: Uint8Array, alg: number): SigningKey;
  generate(params?: unknown): SigningKey;
  privateBytes(k: SigningKey): Uint8Array | undefined;
  publicKeyValid(pub: Uint8Array): boolean;
}
let hss: HssLmsKeyHooks | undefined;
export function installHssLmsKeyHooks(h: HssLmsKeyHooks): void {
  hss = h;
}

function signingKeyFromRaw(raw: RawKey, alg?: number): SigningKey {
  const secret = raw.secret!;
  switch (raw.kind) {
    case 'ed25519': {
      const pub = ed25519PublicKey(secret);
      if (raw.publicKey && Buffer.compare(Buffer.from(raw.publicKey), Buffer.from(pub)) !== 0) {
        throw new UpdateError('KEY_MALFORMED', 'the embedded public key does not match the private key');
      }
      return new SoftwareSigningKey('OKP', secret, pub, alg);
    }
    case 'p256': {
      const pub = p256PublicKey(secret);
      if (raw.publicKey && Buffer.compare(Buffer.from(p256Uncompressed(raw.publicKey)), Buffer.from(pub)) !== 0) {
        throw new UpdateError('KEY_MALFORMED', 'the embedded public key does not match the private key');
      }
      return new SoftwareSigningKey('EC2', secret, pub, alg);
    }
    case 'hss-lms':
      if (!hss) throw new UpdateError('ALGORITHM_UNSUPPORTED', 'HSS-LMS is not available');
      return hss.fromPrivate(secret, alg ?? -46);
  }
}

export interface ParseKeyOptions {
  passphrase?: string | Uint8Array;
  /** COSE algorithm id to use instead of the key type's default (-19 Ed25519, -9 P-256). */
  alg?: number;
}

/** A private key from PEM (PKCS#8, SEC1 "EC PRIVATE KEY", encrypted PKCS#8). */
export function parsePrivateKey(pem: string | Uint8Array, opts: ParseKeyOptions = {}): SigningKey {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  return signingKeyFromRaw(parsePrivatePem(text, opts.passphrase), opts.alg);
}

function publicFromRawBytes(b: Uint8Array, alg?: number): TrustedKey {
  if ((b.length === 65 && b[0] === 4) || (b.length === 33 && (b[0] === 2 || b[0] === 3))) {
    if (!p256IsValidPoint(b)) throw new UpdateError('KEY_MALFORMED', 'not a point on P-256');
    return trusted('EC2', p256Uncompressed(b), alg);
  }
  if (b.length === 32) return trusted('OKP', new Uint8Array(b), alg);
  if (hss?.publicKeyValid(b)) return trusted('HSS-LMS', new Uint8Array(b), alg);
  throw new UpdateError('KEY_MALFORMED', `cannot tell what kind of public key ${b.length} raw bytes are`);
}

/**
 * A public key from: SPKI PEM (or a private-key PEM, whose public half is taken), a COSE_Key
 * (bytes), SPKI DER, or raw bytes (65/33-byte P-256 point, 32-byte Ed25519 key, RFC 8554 HSS public key).
 * Symmetric MAC keys are made with `macKey`.
 */
export function parsePublicKey(input: string | Uint8Array, opts: ParseKeyOptions = {}): TrustedKey {
  let key: TrustedKey;
  if (typeof input === 'string') {
    if (/-----BEGIN /.test(input)) {
      const { label, der } = pemDecode(input);
      if (label === 'PUBLIC KEY') {
        key = fromRaw(parseSpki(der), opts.alg);
      } else {
        key = parsePrivateKey(input, opts).publicKey();
      }
    } else if (/^\s*[0-9a-fA-F\s]+$/.test(input)) {
      return parsePublicKey(fromHex(input), opts);
    } else {
      throw new UpdateError('KEY_MALFORMED', 'not a PEM or hex-encoded key');
    }
  } else if (input.length === 32) {
    // Exactly 32 bytes is a raw Ed25519 key: no COSE_Key or SPKI is that short, and looking at the
    // first byte instead would misread the 1 in 8 raw keys that start with 0x30 or 0xa0-0xbf.
    key = publicFromRawBytes(input, opts.alg);
  } else if (input.length > 0 && (input[0]! & 0xe0) === 0xa0) {
    key = decodeCoseKey(input);
    if (opts.alg !== undefined) key.alg = opts.alg;
  } else if (input.length > 0 && input[0] === 0x30) {
    key = fromRaw(parseSpki(input), opts.alg);
  } else {
    key = publicFromRawBytes(input, opts.alg);
  }
  if (key.kty === 'Symmetric') return key;
  if (getAlgorithm(key.alg).keyType !== key.kty) throw new UpdateError('KEY_MALFORMED', `algorithm ${key.alg} does not use ${key.kty} keys`);
  return key;
}

function fromRaw(raw: RawKey, alg?: number): TrustedKey {
  if (!raw.publicKey) throw new UpdateError('KEY_MALFORMED', 'no public key');
  if (raw.kind === 'p256') {
    if (!p256IsValidPoint(raw.publicKey)) throw new UpdateError('KEY_MALFORMED', 'not a point on P-256');
    return trusted('EC2', p256Uncompressed(raw.publicKey), alg);
  }
  if (raw.kind === 'hss-lms' && hss && !hss.publicKeyValid(raw.publicKey)) throw new UpdateError('KEY_MALFORMED', 'not an HSS-LMS public key');
  return trusted(KIND_KTY[raw.kind], new Uint8Array(raw.publicKey), alg);
}

/**
 * A symmetric key for COSE_Mac0 (HMAC 256/256). `.publicKey()` is the verifier's TrustedKey, which
 * holds the same secret: MAC "trusted keys" are secrets and must be stored as such.
 */
export function macKey(secret: Uint8Array, opts: { coseKid?: Uint8Array; alg?: number } = {}): SigningKey {
  const sk = new SoftwareSigningKey('Symmetric', new Uint8Array(secret), new Uint8Array(secret), opts.alg ?? 5);
  if (!opts.coseKid) return sk;
  const coseKid = new Uint8Array(opts.coseKid);
  return {
    kid: sk.kid,
    alg: sk.alg,
    kty: sk.kty,
    publicKey: () => ({ ...sk.publicKey(), coseKid }),
    sign: (d) => sk.sign(d),
  };
}

/** A fresh random key. `params` is passed to the HSS-LMS generator (levels, LMS/LM-OTS types). */
export function generateKey(alg: number | KeyAlgName, params?: unknown): SigningKey {
  const kty = keyTypeFor(alg);
  const id = typeof alg === 'number' ? alg : DEFAULT_ALG[kty];
  switch (kty) {
    case 'OKP': {
      const s = ed25519GenerateSecret();
      return new SoftwareSigningKey('OKP', s, ed25519PublicKey(s), id);
    }
    case 'EC2': {
      const s = p256GenerateSecret();
      return new SoftwareSigningKey('EC2', s, p256PublicKey(s), id);
    }
    case 'Symmetric': {
      const s = new Uint8Array(32);
      crypto.getRandomValues(s);
      return new SoftwareSigningKey('Symmetric', s, s, id);
    }
    case 'HSS-LMS':
      if (!hss) throw new UpdateError('ALGORITHM_UNSUPPORTED', 'HSS-LMS is not available');
      return hss.generate(params);
  }
}

export interface ExportOptions {
  passphrase?: string | Uint8Array;
  /** PBKDF2 iterations when encrypting (default 600000). */
  iterations?: number;
}

/** PKCS#8 PEM ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with a passphrase). */
export function exportPrivatePem(key: SigningKey, opts: ExportOptions = {}): string {
  let raw: RawKey;
  if (key instanceof SoftwareSigningKey) {
    const secret = SoftwareSigningKey.secretOf(key);
    if (key.kty === 'OKP') raw = { kind: 'ed25519', secret, publicKey: key.publicKey().publicKey };
    else if (key.kty === 'EC2') raw = { kind: 'p256', secret, publicKey: key.publicKey().publicKey };
    else throw new UpdateError('USAGE', `${key.kty} keys have no PEM form`);
  } else {
    const secret = hss?.privateBytes(key);
    if (!secret) throw new UpdateError('USAGE', 'this key cannot be exported');
    raw = { kind: 'hss-lms', secret };
  }
  const der = pkcs8Der(raw);
  if (opts.passphrase !== undefined && opts.passphrase.length > 0) {
    const encOpts = opts.iterations !== undefined ? { passphrase: opts.passphrase, iterations: opts.iterations } : { passphrase: opts.passphrase };
    return pemEncode('ENCRYPTED PRIVATE KEY', encryptPkcs8(der, encOpts));
  }
  return pemEncode('PRIVATE KEY', der);
}

/** SPKI PEM ("PUBLIC KEY"). */
export function exportPublicPem(key: SigningKey | TrustedKey): string {
  const t: TrustedKey = typeof key.publicKey === 'function' ? (key as SigningKey).publicKey() : (key as TrustedKey);
  const kind = ({ OKP: 'ed25519', EC2: 'p256', 'HSS-LMS': 'hss-lms', Symmetric: undefined } as const)[t.kty];
  if (!kind) throw new UpdateError('USAGE', 'a symmetric key has no public PEM form');
  return pemEncode('PUBLIC KEY', spkiDer({ kind, publicKey: t.publicKey }));
}
