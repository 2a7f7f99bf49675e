/**
 * PEM / DER key containers that `openssl pkey` reads and writes:
 *  - PKCS#8 "PRIVATE KEY" (RFC 5958) for Ed25519 (RFC 8410) and P-256 (RFC 5915 inside),
 *  - SPKI "PUBLIC KEY" (RFC 5280) for Ed25519, P-256 and HSS-LMS (RFC 9708),
 *  - SEC1 "EC PRIVATE KEY" (RFC 5915), read only (keys.md prints one),
 *  - encrypted PKCS#8 "ENCRYPTED PRIVATE KEY" (RFC 8018 PBES2): written with PBKDF2-HMAC-SHA256 +
 *    AES-256-CBC, read with PBKDF2 or scrypt (RFC 7914) + AES-256-CBC.
 * node:crypto provides only the KDFs and AES here; parsing and building are ours.
 * Error messages never contain key bytes.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { UpdateError } from '../../errors.js';
import { bitString, children, expectTag, integer, nullValue, octets, OID, oid, readInteger, readOid, readOne, seq, tlv } from './der.js';

export type PemLabel = 'PRIVATE KEY' | 'PUBLIC KEY' | 'EC PRIVATE KEY' | 'ENCRYPTED PRIVATE KEY';

export function pemEncode(label: PemLabel, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The first PEM block of `text`. */
export function pemDecode(text: string): { label: string; der: Uint8Array } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new UpdateError('KEY_MALFORMED', 'no PEM block found');
  const body = m[2]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new UpdateError('KEY_MALFORMED', `PEM block "${m[1]}" is not base64`);
  return { label: m[1]!, der: new Uint8Array(Buffer.from(body, 'base64')) };
}

/** Raw key material; `secret` only for private keys. */
export type AsymKeyKind = 'ed25519' | 'p256' | 'hss-lms';
export interface RawKey {
  kind: AsymKeyKind;
  /** Ed25519 32 bytes; P-256 65-byte uncompressed point (may be absent in a PKCS#8 without it); HSS-LMS public key */
  publicKey?: Uint8Array;
  secret?: Uint8Array;
}

// ---------------------------------------------------------------- writing

export function pkcs8Der(k: RawKey): Uint8Array {
  if (!k.secret) throw new UpdateError('USAGE', 'no private key to export');
  switch (k.kind) {
    case 'ed25519':
      // RFC 8410 §7: PrivateKey is an OCTET STRING wrapping the 32-byte seed.
      return seq(integer(0), seq(oid(OID.ED25519)), octets(octets(k.secret)));
    case 'p256': {
      const ecPriv = seq(integer(1), octets(k.secret), ...(k.publicKey ? [tlv(0xa1, bitString(k.publicKey))] : []));
      return seq(integer(0), seq(oid(OID.EC_PUBLIC_KEY), oid(OID.P256)), octets(ecPriv));
    }
    case 'hss-lms':
      // No standard PKCS#8 private encoding exists for HSS-LMS; ours wraps our private-key encoding
      // (see algorithms/hss-lms.ts). The one-time-key state is NOT in this file.
      return seq(integer(0), seq(oid(OID.HSS_LMS)), octets(k.secret));
  }
}

export function spkiDer(k: RawKey): Uint8Array {
  if (!k.publicKey) throw new UpdateError('USAGE', 'no public key to export');
  switch (k.kind) {
    case 'ed25519':
      return seq(seq(oid(OID.ED25519)), bitString(k.publicKey));
    case 'p256':
      return seq(seq(oid(OID.EC_PUBLIC_KEY), oid(OID.P256)), bitString(k.publicKey));
    case 'hss-lms':
      // RFC 9708 §4: the HSS public key goes directly into the BIT STRING.
      return seq(seq(oid(OID.HSS_LMS)), bitString(k.publicKey));
  }
}

export interface EncryptOptions {
  passphrase: string | Uint8Array;
  /** PBKDF2 iterations; default 600000 (OWASP 2023 for PBKDF2-HMAC-SHA256). */
  iterations?: number;
}

export function encryptPkcs8(der: Uint8Array, opts: EncryptOptions): Uint8Array {
  const iterations = opts.iterations ?? 600_000;
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const kek = pbkdf2Sync(Buffer.from(opts.passphrase), salt, iterations, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', kek, iv);
  const enc = Buffer.concat([c.update(der), c.final()]);
  kek.fill(0);
  const kdf = seq(oid(OID.PBKDF2), seq(octets(salt), integer(iterations), seq(oid(OID.HMAC_SHA256), nullValue())));
  const scheme = seq(oid(OID.AES256_CBC), octets(iv));
  return seq(seq(oid(OID.PBES2), seq(kdf, scheme)), octets(enc));
}

// ---------------------------------------------------------------- reading

function bitStringBytes(v: Uint8Array): Uint8Array {
  if (v.length < 1 || v[0] !== 0) throw new UpdateError('KEY_MALFORMED', 'BIT STRING with unused bits');
  return v.subarray(1);
}

function checkedCurve(params: string | undefined): void {
  if (params !== OID.P256) throw new UpdateError('KEY_MALFORMED', `unsupported EC curve ${params ?? '(none)'}; only P-256 is supported`);
}

export function parseSpki(der: Uint8Array): RawKey {
  const [algId, key] = children(readOne(der, 0x30));
  const a = children(expectTag(algId, 0x30, 'AlgorithmIdentifier'));
  const algOid = readOid(a[0], 'algorithm');
  const pub = bitStringBytes(expectTag(key, 0x03, 'subjectPublicKey').value);
  switch (algOid) {
    case OID.ED25519:
      if (pub.length !== 32) throw new UpdateError('KEY_MALFORMED', 'an Ed25519 public key is 32 bytes');
      return { kind: 'ed25519', publicKey: pub };
    case OID.EC_PUBLIC_KEY:
      checkedCurve(a[1] ? readOid(a[1], 'curve') : undefined);
      return { kind: 'p256', publicKey: pub };
    case OID.HSS_LMS:
      return { kind: 'hss-lms', publicKey: pub };
    default:
      throw new UpdateError('KEY_MALFORMED', `unsupported public key algorithm ${algOid}`);
  }
}

function parseEcPrivate(der: Uint8Array, curveFromOuter?: string): RawKey {
  const f = children(readOne(der, 0x30));
  if (readInteger(f[0], 'ECPrivateKey version') !== 1) throw new UpdateError('KEY_MALFORMED', 'ECPrivateKey version is not 1');
  const secret = expectTag(f[1], 0x04, 'privateKey').value;
  let curve = curveFromOuter;
  let publicKey: Uint8Array | undefined;
  for (const t of f.slice(2)) {
    if (t.tag === 0xa0) curve = readOid(readOne(t.value), 'curve');
    else if (t.tag === 0xa1) publicKey = bitStringBytes(readOne(t.value, 0x03).value);
  }
  checkedCurve(curve);
  if (secret.length !== 32) throw new UpdateError('KEY_MALFORMED', 'a P-256 private key is 32 bytes');
  return { kind: 'p256', secret: new Uint8Array(secret), ...(publicKey ? { publicKey } : {}) };
}

export function parsePkcs8(der: Uint8Array): RawKey {
  const f = children(readOne(der, 0x30));
  const version = readInteger(f[0], 'PrivateKeyInfo version');
  if (version !== 0 && version !== 1) throw new UpdateError('KEY_MALFORMED', 'unsupported PrivateKeyInfo version');
  const a = children(expectTag(f[1], 0x30, 'AlgorithmIdentifier'));
  const algOid = readOid(a[0], 'algorithm');
  const inner = expectTag(f[2], 0x04, 'privateKey').value;
  switch (algOid) {
    case OID.ED25519: {
      const seed = readOne(inner, 0x04).value;
      if (seed.length !== 32) throw new UpdateError('KEY_MALFORMED', 'an Ed25519 private key is 32 bytes');
      return { kind: 'ed25519', secret: new Uint8Array(seed) };
    }
    case OID.EC_PUBLIC_KEY:
      return parseEcPrivate(inner, a[1] ? readOid(a[1], 'curve') : undefined);
    case OID.HSS_LMS:
      return { kind: 'hss-lms', secret: new Uint8Array(inner) };
    default:
      throw new UpdateError('KEY_MALFORMED', `unsupported private key algorithm ${algOid}`);
  }
}

export function parseSec1(der: Uint8Array): RawKey {
  return parseEcPrivate(der);
}

export function decryptPkcs8(der: Uint8Array, passphrase: string | Uint8Array | undefined): Uint8Array {
  if (passphrase === undefined || passphrase.length === 0) {
    throw new UpdateError('KEY_PASSPHRASE_REQUIRED', 'the private key is encrypted; give its passphrase');
  }
  const [algId, encData] = children(readOne(der, 0x30));
  const a = children(expectTag(algId, 0x30, 'encryptionAlgorithm'));
  if (readOid(a[0], 'encryption scheme') !== OID.PBES2) throw new UpdateError('KEY_MALFORMED', 'only PBES2-encrypted private keys are supported');
  const [kdfT, schemeT] = children(expectTag(a[1], 0x30, 'PBES2-params'));
  const kdf = children(expectTag(kdfT, 0x30, 'keyDerivationFunc'));
  const scheme = children(expectTag(schemeT, 0x30, 'encryptionScheme'));
  if (readOid(scheme[0], 'cipher') !== OID.AES256_CBC) throw new UpdateError('KEY_MALFORMED', 'only AES-256-CBC encrypted private keys are supported');
  const iv = expectTag(scheme[1], 0x04, 'IV').value;
  if (iv.length !== 16) throw new UpdateError('KEY_MALFORMED', 'AES-CBC IV must be 16 bytes');
  const kdfOid = readOid(kdf[0], 'KDF');
  const p = children(expectTag(kdf[1], 0x30, 'KDF parameters'));
  const salt = expectTag(p[0], 0x04, 'salt').value;
  let kek: Buffer;
  if (kdfOid === OID.PBKDF2) {
    const iterations = readInteger(p[1], 'iteration count');
    let prf = '1.2.840.113549.2.7'; // default hmacWithSHA1 (RFC 8018 A.2)
    for (const t of p.slice(2)) if (t.tag === 0x30) prf = readOid(children(t)[0], 'PRF');
    const hash = prf === OID.HMAC_SHA256 ? 'sha256' : prf === '1.2.840.113549.2.7' ? 'sha1' : undefined;
    if (!hash) throw new UpdateError('KEY_MALFORMED', `unsupported PBKDF2 PRF ${prf}`);
    if (iterations < 1 || iterations > 10_000_000) throw new UpdateError('KEY_MALFORMED', 'PBKDF2 iteration count out of range');
    kek = pbkdf2Sync(Buffer.from(passphrase), salt, iterations, 32, hash);
  } else if (kdfOid === OID.SCRYPT) {
    const N = readInteger(p[1], 'scrypt N');
    const r = readInteger(p[2], 'scrypt r');
    const par = readInteger(p[3], 'scrypt p');
    if (N > 2 ** 20 || r > 32 || par > 16) throw new UpdateError('KEY_MALFORMED', 'scrypt parameters out of range');
    kek = scryptSync(Buffer.from(passphrase), salt, 32, { N, r, p: par, maxmem: 256 * N * r + 64 * 1024 * 1024 });
  } else {
    throw new UpdateError('KEY_MALFORMED', `unsupported key derivation ${kdfOid}`);
  }
  try {
    const d = createDecipheriv('aes-256-cbc', kek, iv);
    const out = Buffer.concat([d.update(expectTag(encData, 0x04, 'encryptedData').value), d.final()]);
    // A wrong passphrase usually fails the padding check; if it does not, the DER parse will.
    readOne(out, 0x30);
    return new Uint8Array(out);
  } catch {
    throw new UpdateError('KEY_PASSPHRASE_REQUIRED', 'cannot decrypt the private key: wrong passphrase?');
  } finally {
    kek.fill(0);
  }
}

/** Any private-key PEM → raw key. */
export function parsePrivatePem(text: string, passphrase?: string | Uint8Array): RawKey {
  const { label, der } = pemDecode(text);
  switch (label) {
    case 'PRIVATE KEY':
      return parsePkcs8(der);
    case 'EC PRIVATE KEY':
      return parseSec1(der);
    case 'ENCRYPTED PRIVATE KEY':
      return parsePkcs8(decryptPkcs8(der, passphrase));
    default:
      throw new UpdateError('KEY_MALFORMED', `PEM block "${label}" is not a private key`);
  }
}
