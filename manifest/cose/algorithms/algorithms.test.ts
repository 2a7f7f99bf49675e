import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../cbor.js';
import { getAlgorithm, listAlgorithms } from './index.js';
import { ed25519PublicKey } from './ed25519.js';
import { p256PublicKey } from './p256.js';

// RFC 8032 §7.1, TEST 1–3 (Ed25519).
const RFC8032 = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

describe('registry', () => {
  it('has the built-ins', () => {
    const ids = listAlgorithms().map((a) => a.id);
    for (const id of [-7, -9, -8, -19, 5]) expect(ids).toContain(id);
  });
  it('refuses unknown ids with ALGORITHM_UNSUPPORTED', () => {
    expect(() => getAlgorithm(-999)).toThrow(expect.objectContaining({ code: 'ALGORITHM_UNSUPPORTED' }));
  });
});

describe('Ed25519 (RFC 8032 §7.1)', () => {
  for (const v of RFC8032) {
    for (const id of [-8, -19]) {
      it(`${v.name} with alg ${id}`, () => {
        const a = getAlgorithm(id);
        const secret = fromHex(v.secret);
        expect(toHex(ed25519PublicKey(secret))).toBe(v.pub);
        expect(toHex(a.sign!(secret, fromHex(v.msg)))).toBe(v.sig);
        expect(a.verify(fromHex(v.pub), fromHex(v.msg), fromHex(v.sig))).toBe(true);
        const bad = fromHex(v.sig);
        bad[0]! ^= 1;
        expect(a.verify(fromHex(v.pub), fromHex(v.msg), bad)).toBe(false);
        expect(a.verify(fromHex(v.pub), fromHex(v.msg), bad.subarray(1))).toBe(false);
      });
    }
  }
  it('refuses a non-canonical S (S + L): strict RFC 8032, no malleability', () => {
    const v = RFC8032[0]!;
    const sig = fromHex(v.sig);
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    s += L;
    for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
    expect(getAlgorithm(-19).verify(fromHex(v.pub), new Uint8Array(), sig)).toBe(false);
  });
});

describe('P-256 ECDSA (ES256 / ESP256), cross-checked with node:crypto', () => {
  const data = new TextEncoder().encode('SUIT manifest digest');
  it('ours signs, node:crypto verifies (IEEE P1363 r||s)', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const secret = new Uint8Array(Buffer.from(jwk.d!, 'base64url'));
    const pub = createPublicKey(privateKey);
    for (const id of [-7, -9]) {
      const sig = getAlgorithm(id).sign!(secret, data);
      expect(sig.length).toBe(64);
      expect(nodeVerify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    }
  });
  it('node:crypto signs, ours verifies (including high-S signatures)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const point = Uint8Array.from([4, ...Buffer.from(jwk.x!, 'base64url'), ...Buffer.from(jwk.y!, 'base64url')]);
    for (let i = 0; i < 8; i++) {
      const sig = nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(getAlgorithm(-9).verify(point, data, new Uint8Array(sig))).toBe(true);
      expect(getAlgorithm(-7).verify(point, Uint8Array.of(...data, 0), new Uint8Array(sig))).toBe(false);
    }
  });
  it('derives the public key of the draft example key (keys.md §1)', () => {
    const pem = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgApZYjZCUGLM50VBC
CjYStX+09jGmnyJPrpDLTz/hiXOhRANCAASEloEarguqq9JhVxie7NomvqqL8Rtv
P+bitWWchdvArTsfKktsCYExwKNtrNHXi9OB3N+wnAUtszmR23M4tKiW
-----END PRIVATE KEY-----`;
    const jwk = createPrivateKey(pem).export({ format: 'jwk' });
    const pub = p256PublicKey(new Uint8Array(Buffer.from(jwk.d!, 'base64url')));
    expect(toHex(pub.subarray(1, 33))).toBe('8496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad');
  });
  it('returns false (never throws) for garbage signatures', () => {
    const pub = p256PublicKey(fromHex('0296588d909418b339d150420a3612b57fb4f631a69f224fae90cb4f3fe18973'));
    expect(getAlgorithm(-9).verify(pub, data, new Uint8Array(64))).toBe(false);
    expect(getAlgorithm(-9).verify(pub, data, new Uint8Array(64).fill(0xff))).toBe(false);
    expect(getAlgorithm(-9).verify(pub, data, new Uint8Array(63))).toBe(false);
  });
});

describe('HMAC 256/256', () => {
  it('matches node:crypto HMAC-SHA-256 and compares in constant time', async () => {
    const { createHmac } = await import('node:crypto');
    const key = new Uint8Array(32).fill(0x61);
    const data = new TextEncoder().encode('x');
    const tag = getAlgorithm(5).sign!(key, data);
    expect(Buffer.from(tag).equals(createHmac('sha256', key).update(data).digest())).toBe(true);
    expect(getAlgorithm(5).verify(key, data, tag)).toBe(true);
    tag[31]! ^= 0x80;
    expect(getAlgorithm(5).verify(key, data, tag)).toBe(false);
  });
  it('refuses keys shorter than 32 bytes', () => {
    expect(() => getAlgorithm(5).sign!(new Uint8Array(16), new Uint8Array())).toThrow(expect.objectContaining({ code: 'KEY_MALFORMED' }));
  });
});
