/**
 * Every signed SUIT vector of test/fixtures/suit verifies through `verifyEnvelope` with the
 * keys printed in keys.md, and tampering is refused with a typed code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  ERRORS,
  generateKey,
  isUpdateError,
  macKey,
  parsePrivateKey,
  parsePublicKey,
  signEnvelope,
  verifyEnvelope,
  type TrustedKey,
} from '../../manifest/index.js';
import { listFixtures, readHexFixture } from '../support/fixtures.js';

// keys.md §1 (draft-ietf-suit-manifest Appendix B, also trust-domains, ES-DH and libcsuit).
const DRAFT_PUB = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb
bz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==
-----END PUBLIC KEY-----`;
// keys.md §2: the dependent manifest of "ES-DH Example with Dependency".
const DEPENDENT_PRIV = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIQa67e56m8CYL5zVaJFiLl30j0qxb8ray2DeUMqH+qYoAoGCCqGSM49
AwEHoUQDQgAEDpCKqPBm2x8ITgw2UsY5Ur2Z8qW9si+eATZ6rQOrpot32hvYrE8M
tJC6IQZIv3mrFk1JrTVR1x0xSydJ7kLSmg==
-----END EC PRIVATE KEY-----`;

const p256Key = parsePublicKey(DRAFT_PUB);
const dependentKey = parsePrivateKey(DEPENDENT_PRIV).publicKey();
// keys.md §2: HMAC 256/256 key of the AES-KW examples: 'aaaa…' (32 × 0x61).
const hmacKey = macKey(new Uint8Array(32).fill(0x61)).publicKey();

function vectorFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['', 'trust-domains', 'firmware-encryption', 'libcsuit']) {
    for (const n of listFixtures(dir ? `suit/${dir}` : 'suit')) {
      const f = n.slice(n.lastIndexOf('/') + 1);
      if (!/\.hex(\.signed)?$/.test(f) || f.includes('.unsigned.')) continue;
      if (/^(encrypted-payload|suit-encryption-info)/.test(f)) continue; // not envelopes
      out.push(dir ? `${dir}/${f}` : f);
    }
  }
  return out.sort();
}

/**
 * Which key signs which vector (keys.md): the AES-KW examples and libcsuit's expA* are MACed with
 * the 'aaaa…' key; the draft's ES-DH dependency example is signed with the §2 key, while libcsuit's
 * copy of it (expED) is re-signed with the §1 key (deterministic ESP256), like every other file.
 */
function keyFor(file: string): TrustedKey {
  if (/aes-kw|suit_manifest_expA/.test(file)) return hmacKey;
  if (/es-ecdh-dependency/.test(file)) return dependentKey;
  return p256Key;
}

const read = (file: string): Uint8Array => readHexFixture(`suit/${file}`);

describe('SUIT vectors: signatures and MACs verify with the keys of keys.md', () => {
  const files = vectorFiles();
  it('finds the vectors', () => expect(files.length).toBeGreaterThan(30));
  for (const file of files) {
    it(file, () => {
      const env = decodeEnvelope(read(file), { maxBytes: 1 << 20 });
      const key = keyFor(file);
      const res = verifyEnvelope(env, [key]);
      expect(res.signers).toEqual([key.kid]);
      // and no other key of keys.md verifies it (the policy refuses, with a code)
      const others = [p256Key, dependentKey, hmacKey].filter((k) => k.kid !== key.kid);
      expect(() => verifyEnvelope(env, others)).toThrow(expect.objectContaining({ code: expect.stringMatching(/SIGNATURE_INVALID|KEY_UNTRUSTED/) }));
    });
  }
});

describe('draft Example 1 (example1.hex) with the P-256 key', () => {
  const bytes = read('example1.hex');
  it('has 272 bytes and verifies', () => {
    expect(bytes.length).toBe(272);
    const env = decodeEnvelope(bytes);
    expect(verifyEnvelope(env, [p256Key])).toMatchObject({ signers: [p256Key.kid] });
  });
  it('flipping any byte (each of the 272 positions, all bits) makes decodeEnvelope or verifyEnvelope throw a documented UpdateError', () => {
    const codes = new Map<string, number>();
    for (let i = 0; i < bytes.length; i++) {
      const t = new Uint8Array(bytes);
      t[i]! ^= 0xff;
      let code: string | undefined;
      try {
        verifyEnvelope(decodeEnvelope(t), [p256Key]);
      } catch (e) {
        if (!isUpdateError(e)) throw new Error(`byte ${i}: a non-UpdateError escaped: ${String(e)}`);
        code = e.code;
      }
      expect(code, `byte ${i} flipped was accepted`).toBeDefined();
      expect(ERRORS).toHaveProperty(code!);
      codes.set(code!, (codes.get(code!) ?? 0) + 1);
    }
    // the flips land in every layer: CBOR, envelope shape, digest, signature
    expect([...codes.keys()]).toEqual(expect.arrayContaining(['MANIFEST_DIGEST_MISMATCH', 'SIGNATURE_INVALID']));
  });
  it('flipping any single bit is refused too', () => {
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = new Uint8Array(bytes);
        t[i]! ^= 1 << bit;
        let refused = false;
        try {
          verifyEnvelope(decodeEnvelope(t), [p256Key]);
        } catch (e) {
          expect(isUpdateError(e), `byte ${i} bit ${bit}`).toBe(true);
          refused = true;
        }
        expect(refused, `byte ${i} bit ${bit} accepted`).toBe(true);
      }
    }
  });
});

describe('envelopes we sign', () => {
  const ed = generateKey('ed25519');
  const ec = generateKey('p256');
  const unsigned = decodeEnvelope(read('example1.unsigned.hex'));
  const signed = signEnvelope(unsigned, [ed, ec]);
  const bytes = encodeEnvelope(signed);

  it('verify with threshold 2 and report both signers', () => {
    const res = verifyEnvelope(decodeEnvelope(bytes), [ed.publicKey(), ec.publicKey()], { threshold: 2 });
    expect(new Set(res.signers)).toEqual(new Set([ed.kid, ec.kid]));
    expect(() => verifyEnvelope(decodeEnvelope(bytes), [ed.publicKey()], { threshold: 2 })).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_THRESHOLD_NOT_MET' }),
    );
  });

  it('fast-check: any single-bit flip is rejected with a typed code', () => {
    const trusted = [ed.publicKey(), ec.publicKey()];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bitIndex) => {
        const t = new Uint8Array(bytes);
        t[bitIndex >> 3]! ^= 1 << (bitIndex & 7);
        try {
          verifyEnvelope(decodeEnvelope(t), trusted, { threshold: 2 });
        } catch (e) {
          return isUpdateError(e);
        }
        return false;
      }),
      { numRuns: 2000 },
    );
  });

  it('an unsigned envelope is AUTH_MISSING; an untrusted signer is KEY_UNTRUSTED; revoked is KEY_REVOKED', () => {
    const fresh = buildEnvelope({ manifest: unsigned.manifestBstr.subarray(unsigned.manifestBstr.length - unsigned.manifest.bytes.length) });
    expect(() => verifyEnvelope(fresh, [ec.publicKey()])).toThrow(expect.objectContaining({ code: 'AUTH_MISSING' }));
    const other = generateKey('p256');
    expect(() => verifyEnvelope(decodeEnvelope(bytes), [other.publicKey()])).toThrow(expect.objectContaining({ code: 'KEY_UNTRUSTED' }));
    expect(() => verifyEnvelope(decodeEnvelope(bytes), [ec.publicKey()], { revokedKids: [ec.kid] })).toThrow(expect.objectContaining({ code: 'KEY_REVOKED' }));
    expect(() => verifyEnvelope(decodeEnvelope(bytes), [ec.publicKey()], { allowedAlgs: [-19] })).toThrow(
      expect.objectContaining({ code: 'ALGORITHM_UNSUPPORTED' }),
    );
  });
});
