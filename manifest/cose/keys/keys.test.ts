import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, toHex } from '../../cbor.js';
import '../algorithms/index.js';
import {
  decodeCoseKey,
  encodeCoseKey,
  exportPrivatePem,
  exportPublicPem,
  generateKey,
  keyThumbprint,
  macKey,
  parsePrivateKey,
  parsePublicKey,
} from './index.js';

const DRAFT_PRIV = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgApZYjZCUGLM50VBC
CjYStX+09jGmnyJPrpDLTz/hiXOhRANCAASEloEarguqq9JhVxie7NomvqqL8Rtv
P+bitWWchdvArTsfKktsCYExwKNtrNHXi9OB3N+wnAUtszmR23M4tKiW
-----END PRIVATE KEY-----
`;
const DRAFT_PUB = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb
bz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==
-----END PUBLIC KEY-----
`;
const SEC1 = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIQa67e56m8CYL5zVaJFiLl30j0qxb8ray2DeUMqH+qYoAoGCCqGSM49
AwEHoUQDQgAEDpCKqPBm2x8ITgw2UsY5Ur2Z8qW9si+eATZ6rQOrpot32hvYrE8M
tJC6IQZIv3mrFk1JrTVR1x0xSydJ7kLSmg==
-----END EC PRIVATE KEY-----
`;

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('PEM', () => {
  it('reads the draft P-256 key (PKCS#8) and re-exports it byte-identical', () => {
    const k = parsePrivateKey(DRAFT_PRIV);
    expect(k.kty).toBe('EC2');
    expect(exportPrivatePem(k)).toBe(DRAFT_PRIV);
    expect(exportPublicPem(k)).toBe(DRAFT_PUB);
    const pub = parsePublicKey(DRAFT_PUB);
    expect(pub.kid).toBe(k.kid);
    expect(toHex(pub.publicKey.subarray(1, 33))).toBe('8496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad');
  });
  it('reads SEC1 "EC PRIVATE KEY" (keys.md §2)', () => {
    const k = parsePrivateKey(SEC1);
    expect(toHex(k.publicKey().publicKey)).toBe(
      '04' + '0e908aa8f066db1f084e0c3652c63952bd99f2a5bdb22f9e01367aad03aba68b' + '77da1bd8ac4f0cb490ba210648bf79ab164d49ad3551d71d314b2749ee42d29a',
    );
  });
  for (const alg of ['ed25519', 'p256'] as const) {
    it(`${alg}: node:crypto reads our PKCS#8/SPKI and derives the same public key; signatures cross-verify`, () => {
      const k = generateKey(alg);
      const priv = createPrivateKey(exportPrivatePem(k));
      const pub = createPublicKey(exportPublicPem(k));
      expect(createPublicKey(priv).export({ format: 'der', type: 'spki' }).equals(pub.export({ format: 'der', type: 'spki' }))).toBe(true);
      const data = new TextEncoder().encode('hello');
      const sig = k.sign(data);
      const ok = alg === 'ed25519' ? nodeVerify(null, data, pub, sig) : nodeVerify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
      expect(ok).toBe(true);
      // and node's own PEM export parses back to the same key id
      const nodePem = priv.export({ format: 'pem', type: 'pkcs8' }).toString();
      expect(parsePrivateKey(nodePem).kid).toBe(k.kid);
    });
    it(`${alg}: encrypted PKCS#8 round trip; node:crypto decrypts ours and we decrypt node's`, () => {
      const k = generateKey(alg);
      const pem = exportPrivatePem(k, { passphrase: 'correct horse', iterations: 1000 });
      expect(pem).toContain('ENCRYPTED PRIVATE KEY');
      expect(parsePrivateKey(pem, { passphrase: 'correct horse' }).kid).toBe(k.kid);
      expect(() => parsePrivateKey(pem)).toThrow(expect.objectContaining({ code: 'KEY_PASSPHRASE_REQUIRED' }));
      expect(() => parsePrivateKey(pem, { passphrase: 'wrong' })).toThrow(expect.objectContaining({ code: 'KEY_PASSPHRASE_REQUIRED' }));
      const viaNode = createPrivateKey({ key: pem, passphrase: 'correct horse' });
      const nodeEnc = viaNode.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
      expect(parsePrivateKey(nodeEnc, { passphrase: 'pw' }).kid).toBe(k.kid);
    });
  }
  it.runIf(hasOpenssl())('openssl pkey reads our keys and derives the same public key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    for (const alg of ['ed25519', 'p256'] as const) {
      const k = generateKey(alg);
      writeFileSync(join(dir, 'k.pem'), exportPrivatePem(k));
      const derived = execFileSync('openssl', ['pkey', '-in', join(dir, 'k.pem'), '-pubout']).toString();
      expect(derived).toBe(exportPublicPem(k));
      writeFileSync(join(dir, 'e.pem'), exportPrivatePem(k, { passphrase: 'pw', iterations: 1000 }));
      const dec = execFileSync('openssl', ['pkey', '-in', join(dir, 'e.pem'), '-passin', 'pass:pw', '-pubout']).toString();
      expect(dec).toBe(exportPublicPem(k));
    }
  });
  it('never shows private bytes in JSON or inspect', () => {
    const k = parsePrivateKey(DRAFT_PRIV);
    const text = JSON.stringify(k) + inspect(k, { showHidden: true, depth: 5 });
    expect(text).not.toMatch(/0296588d|ApZYjZCU|2,\s*150,\s*88/i);
  });
  it('refuses garbage with KEY_MALFORMED', () => {
    expect(() => parsePrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
    expect(() => parsePublicKey('nothing')).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
    expect(() => parsePublicKey(new Uint8Array(65).fill(4))).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
  });
});

describe('COSE_Key and RFC 9679 thumbprint', () => {
  it('RFC 9679 §6 example thumbprint', () => {
    // RFC 9679 §6: EC2 P-256 key, thumbprint 496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec
    const x = '65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d';
    const y = '1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c';
    const m = new Map<number, unknown>([[1, 2], [-1, 1], [-2, Buffer.from(x, 'hex')], [-3, Buffer.from(y, 'hex')], [2, new TextEncoder().encode('kid')]]);
    const k = decodeCoseKey(encodeCbor(m as never));
    expect(k.kid).toBe('496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec');
  });
  it('round-trips OKP, EC2 and symmetric keys', () => {
    for (const alg of ['ed25519', 'p256'] as const) {
      const k = generateKey(alg);
      const bytes = encodeCoseKey(k);
      const back = decodeCoseKey(bytes);
      expect(back.kid).toBe(k.kid);
      expect(back.alg).toBe(k.alg);
      expect(parsePublicKey(bytes).kid).toBe(k.kid);
      expect(keyThumbprint(back)).toBe(k.kid);
    }
    const mk = macKey(new Uint8Array(32).fill(0x61), { coseKid: new TextEncoder().encode('kid-1') });
    const back = decodeCoseKey(encodeCoseKey(mk.publicKey()));
    expect(back.kty).toBe('Symmetric');
    expect(new TextDecoder().decode(back.coseKid)).toBe('kid-1');
  });
  it('refuses a COSE_Key with a private part or a point off the curve', () => {
    const k = generateKey('p256');
    const m = decodeCbor(encodeCoseKey(k)) as Map<number, unknown>;
    m.set(-4, new Uint8Array(32));
    expect(() => decodeCoseKey(encodeCbor(m as never))).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
    m.delete(-4);
    m.set(-3, new Uint8Array(32));
    expect(() => decodeCoseKey(encodeCbor(m as never))).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
  });
});

describe('raw public keys', () => {
  it('reads every 32-byte input as a raw Ed25519 key, whatever its first byte', () => {
    // 0x30 looks like DER and 0xa0-0xbf like a CBOR map: neither may be guessed from the first byte.
    for (const first of [0x30, 0xa0, 0xa4, 0xbf, 0x00]) {
      const priv = generateKey(-19);
      const raw = new Uint8Array(priv.publicKey().publicKey);
      raw[0] = first;
      const k = parsePublicKey(raw);
      expect(k.kty).toBe('OKP');
      expect(Buffer.from(k.publicKey).equals(Buffer.from(raw))).toBe(true);
    }
  });
});
