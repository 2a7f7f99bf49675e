import { createPublicKey } from 'node:crypto';
import { Sign1 } from '@auth0/cose';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../envelope/index.js';
import { encodeCbor, fromHex, Tagged, toHex } from '../cbor.js';
import {
  addSignatureBlock,
  attachSignature,
  coseSigStructure,
  createMac0,
  decodeCoseMessage,
  decodeMac0,
  decodeSign,
  decodeSign1,
  encodeSign1,
  exportPublicPem,
  generateKey,
  macKey,
  signEnvelope,
  signingInput,
  signSign,
  signSign1,
  signSign1Detached,
  toBeSigned,
  verifyEnvelope,
  verifySign1Attached,
  verifySign1Detached,
  verifyWithKey,
} from './index.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const msg = new TextEncoder().encode('payload');

describe('COSE_Sign1 / COSE_Sign / COSE_Mac0 round trips', () => {
  for (const alg of ['ed25519', 'p256'] as const) {
    it(`${alg}: detached and attached Sign1`, () => {
      const k = generateKey(alg);
      const det = signSign1Detached(msg, k);
      const d = decodeSign1(det, { requireTag: true });
      expect(d.payload).toBeNull();
      expect(d.alg).toBe(k.alg);
      expect(toHex(d.kid!)).toBe(k.kid);
      expect(verifySign1Detached(det, msg, k.publicKey())).toBe(true);
      expect(verifySign1Detached(det, Uint8Array.of(1), k.publicKey())).toBe(false);
      const att = signSign1(msg, k);
      expect(verifySign1Attached(att, k.publicKey())).toEqual(msg);
      expect(() => verifySign1Attached(att, generateKey(alg).publicKey())).toThrow(expect.objectContaining({ code: 'KEY_UNTRUSTED' }));
    });
  }
  it('COSE_Sign with two signers', () => {
    const a = generateKey('ed25519');
    const b = generateKey('p256');
    const m = decodeSign(signSign(msg, [a, b]));
    expect(m.signatures).toHaveLength(2);
    expect(m.payload).toEqual(msg);
    m.signatures.forEach((s, i) => {
      const k = [a, b][i]!.publicKey();
      expect(toHex(s.kid!)).toBe(k.kid);
      expect(verifyWithKey(s.alg, k, toBeSigned(m, m.payload!, s), s.signature)).toBe(true);
      expect(verifyWithKey(s.alg, k, toBeSigned(m, Uint8Array.of(0), s), s.signature)).toBe(false);
    });
  });
  it('COSE_Mac0 with HMAC 256/256', () => {
    const k = macKey(new Uint8Array(32).fill(7));
    const m = decodeMac0(createMac0(msg, k, { detached: true }));
    expect(m.alg).toBe(5);
    expect(m.tag).toHaveLength(32);
  });
  it('uses the protected header bytes exactly as received (non-preferred encoding of alg)', () => {
    const k = generateKey(-7);
    // {1: -7} with -7 written in a 1-byte argument (38 06) instead of the preferred 26.
    const prot = fromHex('a1013806');
    const sig = k.sign(coseSigStructure('Signature1', prot, msg));
    const bytes = encodeSign1({ protectedBytes: prot, unprotected: new Map(), payload: null, signature: sig });
    const d = decodeSign1(bytes);
    expect(toHex(d.protectedBytes)).toBe('a1013806');
    expect(verifySign1Detached(d, msg, k.publicKey())).toBe(true);
  });
});

describe('strict COSE decoding (each malformed input gives its code)', () => {
  const sig = new Uint8Array(64);
  const cases: [string, Uint8Array, string][] = [
    ['not tagged when a tag is required', encodeCbor([fromHex('a10126'), new Map(), null, sig]), 'COSE_MALFORMED'],
    ['wrong tag (Mac0 tag on a Sign1 shape)', encodeCbor(new Tagged(99, [fromHex('a10126'), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['three elements', encodeCbor(new Tagged(18, [fromHex('a10126'), new Map(), null])), 'COSE_MALFORMED'],
    ['protected header not a bstr', encodeCbor(new Tagged(18, [new Map([[1, -7]]), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['protected header bytes not CBOR', encodeCbor(new Tagged(18, [fromHex('a101'), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['protected header an array', encodeCbor(new Tagged(18, [fromHex('820126'), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['no alg', encodeCbor(new Tagged(18, [new Uint8Array(0), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['alg only unprotected', encodeCbor(new Tagged(18, [new Uint8Array(0), new Map([[1, -7]]), null, sig])), 'COSE_MALFORMED'],
    ['label in both buckets', encodeCbor(new Tagged(18, [fromHex('a2012604420102'), new Map([[4, Uint8Array.of(1)]]), null, sig])), 'COSE_MALFORMED'],
    ['crit header', encodeCbor(new Tagged(18, [fromHex('a201260281182a'), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['kid not a bstr', encodeCbor(new Tagged(18, [fromHex('a10126'), new Map([[4, 'text']]), null, sig])), 'COSE_MALFORMED'],
    ['alg a string', encodeCbor(new Tagged(18, [fromHex('a1016545533235'), new Map(), null, sig])), 'COSE_MALFORMED'],
    ['payload a text string', encodeCbor(new Tagged(18, [fromHex('a10126'), new Map(), 'x', sig])), 'COSE_MALFORMED'],
    ['signature not a bstr', encodeCbor(new Tagged(18, [fromHex('a10126'), new Map(), null, 5])), 'COSE_MALFORMED'],
    ['COSE_Mac (97) unsupported', encodeCbor(new Tagged(97, [fromHex('a10105'), new Map(), null, sig, []])), 'ALGORITHM_UNSUPPORTED'],
    ['COSE_Sign with no signatures', encodeCbor(new Tagged(98, [new Uint8Array(0), new Map(), null, []])), 'COSE_MALFORMED'],
    ['truncated', fromHex('d28443a10126a0f65840'), 'CBOR_MALFORMED'],
    ['trailing byte', Uint8Array.of(...encodeCbor(new Tagged(18, [fromHex('a10126'), new Map(), null, sig])), 0), 'CBOR_TRAILING_BYTES'],
  ];
  for (const [what, bytes, code] of cases) {
    it(what, () => {
      expect(() => decodeCoseMessage(bytes, { requireTag: true })).toThrow(expect.objectContaining({ code }));
    });
  }
});

describe('@auth0/cose (third-party) verifies COSE_Sign1 we produce', () => {
  // @auth0/cose 1.0.2 knows EdDSA (-8) and ES256 (-7) only, not the fully-specified -19/-9
  // (same keys, same signatures: only the id differs), so the check uses -8 and -7.
  for (const [name, id] of [['Ed25519', -8], ['P-256', -7]] as const) {
    it(`${name} (alg ${id}): attached and detached payload`, async () => {
      const k = generateKey(id);
      const pub = createPublicKey(exportPublicPem(k));
      await Sign1.decode(signSign1(msg, k)).verify(pub);
      await Sign1.decode(signSign1Detached(msg, k)).verify(pub, { detachedPayload: msg });
      await expect(Sign1.decode(signSign1Detached(msg, k)).verify(pub, { detachedPayload: Uint8Array.of(0) })).rejects.toThrow();
    });
  }
  it('and the block signEnvelope adds to a SUIT envelope (detached SUIT_Digest)', async () => {
    const k = generateKey(-7);
    const env = signEnvelope(decodeEnvelope(readHexFixture('suit/example1.unsigned.hex')), [k]);
    await Sign1.decode(env.authBlocks[0]!).verify(createPublicKey(exportPublicPem(k)), { detachedPayload: env.digestBytes });
  });
});

describe('verifyEnvelope policy', () => {
  const unsigned = decodeEnvelope(readHexFixture('suit/example1.unsigned.hex'));
  it('a block claiming a trusted kid that does not verify is fatal even when the threshold is met by others', () => {
    const a = generateKey('ed25519');
    const b = generateKey('p256');
    const good = signEnvelope(unsigned, [a]);
    // b's kid on a signature that b did not make over this digest
    const forged = encodeSign1({
      protectedMap: new Map<number, number | Uint8Array>([[1, b.alg], [4, fromHex(b.kid)]]),
      unprotected: new Map(),
      payload: null,
      signature: new Uint8Array(64).fill(1),
    });
    const env = addSignatureBlock(good, forged);
    expect(() => verifyEnvelope(env, [a.publicKey(), b.publicKey()])).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }));
    // the same block is ignored by a verifier that does not trust b
    expect(verifyEnvelope(env, [a.publicKey()]).signers).toEqual([a.kid]);
  });
  it('counts distinct keys: the same key twice is one signer', () => {
    const a = generateKey('ed25519');
    const env = signEnvelope(signEnvelope(unsigned, [a]), [a]);
    expect(env.authBlocks).toHaveLength(2);
    expect(() => verifyEnvelope(env, [a.publicKey()], { threshold: 2 })).toThrow(expect.objectContaining({ code: 'SIGNATURE_THRESHOLD_NOT_MET' }));
  });
  it('MAC keys verify Mac0 blocks; mixed Mac0 + Sign1 count together', () => {
    const m = macKey(new Uint8Array(32).fill(9));
    const s = generateKey('p256');
    const env = decodeEnvelope(encodeEnvelope(signEnvelope(unsigned, [m, s])));
    expect(new Set(verifyEnvelope(env, [m.publicKey(), s.publicKey()], { threshold: 2 }).signers)).toEqual(new Set([m.kid, s.kid]));
  });
  it('two-step signing: signingInput → external signature → attachSignature (verifies first)', () => {
    for (const alg of ['ed25519', 'p256'] as const) {
      const k = generateKey(alg);
      const withKid = attachSignature(unsigned, k.publicKey(), k.sign(signingInput(unsigned, k.publicKey())));
      expect(verifyEnvelope(withKid, [k.publicKey()]).signers).toEqual([k.kid]);
      const algOnly = attachSignature(unsigned, k.publicKey(), k.sign(signingInput(unsigned, k.alg)));
      expect(verifyEnvelope(algOnly, [k.publicKey()]).signers).toEqual([k.kid]);
      expect(() => attachSignature(unsigned, k.publicKey(), new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }));
    }
  });
  it('signing refuses an envelope whose digest does not match', () => {
    const bad = { ...unsigned, digestBytes: new Uint8Array(unsigned.digestBytes), digest: { ...unsigned.digest, bytes: new Uint8Array(32) } };
    expect(() => signEnvelope(bad, [generateKey('p256')])).toThrow(expect.objectContaining({ code: 'MANIFEST_DIGEST_MISMATCH' }));
  });
  it('toBeSigned matches the Sig_structure for every signer of a COSE_Sign', () => {
    const a = generateKey('ed25519');
    const m = decodeSign(signSign(msg, [a]));
    expect(toBeSigned(m, msg, m.signatures[0])).toEqual(coseSigStructure('Signature', new Uint8Array(0), msg, { signProtected: m.signatures[0]!.protectedBytes }));
  });
});

describe('random bytes never throw anything but UpdateError', () => {
  it('decodeCoseMessage, decodeAnchorStatement, verifyReport, parsePublicKey', async () => {
    const fc = (await import('fast-check')).default;
    const { decodeAnchorStatement, verifyReport, parsePublicKey } = await import('./index.js');
    const { isUpdateError } = await import('../errors.js');
    const k = generateKey('ed25519').publicKey();
    const cose = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 120 }).map((b) => Uint8Array.of(0xd2, 0x84, ...b)),
      fc.uint8Array({ maxLength: 120 }).map((b) => Uint8Array.of(0xd8, 0x62, 0x84, ...b)),
    );
    fc.assert(
      fc.property(cose, (b) => {
        for (const f of [() => decodeCoseMessage(b), () => decodeAnchorStatement(b), () => verifyReport(b, k, Uint8Array.of(1)), () => parsePublicKey(b)]) {
          try {
            f();
          } catch (e) {
            if (!isUpdateError(e)) return false;
          }
        }
        return true;
      }),
      { numRuns: 3000 },
    );
  });
});
