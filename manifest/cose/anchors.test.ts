import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../envelope/index.js';
import {
  decodeAnchorStatement,
  encodeAnchorStatement,
  generateKey,
  signAnchorStatement,
  signEnvelope,
  verifyAnchorChain,
  verifyAnchorStatement,
  verifyEnvelopeWithAnchors,
  verifyInitialAnchorSet,
  type AnchorSetInput,
  type KeyRole,
  type SigningKey,
  type TrustedKey,
} from './index.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const withRoles = (k: SigningKey, ...roles: KeyRole[]): TrustedKey => ({ ...k.publicKey(), roles });

// Vendor: two anchor (root) keys, 2-of-2; two firmware keys, 1-of-2.
const vRoot1 = generateKey('p256');
const vRoot2 = generateKey('ed25519');
const vFw1 = generateKey('ed25519');
const vFw2 = generateKey('p256');
const v1: AnchorSetInput = {
  version: 1,
  keys: [withRoles(vRoot1, 'anchors'), withRoles(vRoot2, 'anchors'), withRoles(vFw1, 'firmware'), withRoles(vFw2, 'firmware')],
  threshold: 1,
  anchorThreshold: 2,
  revoked: [],
  owner: { name: 'vendor.example' },
};
const v1Bytes = signAnchorStatement(v1, [vRoot1, vRoot2]);
const set1 = verifyInitialAnchorSet(v1Bytes);
const unsigned = decodeEnvelope(readHexFixture('suit/example1.unsigned.hex'));

describe('anchor statements', () => {
  it('encode/decode round trip (deterministic payload)', () => {
    const d = decodeAnchorStatement(v1Bytes);
    expect(d.set.version).toBe(1);
    expect(d.set.keys.map((k) => k.kid)).toEqual(v1.keys.map((k) => k.kid));
    expect(d.set.keys[0]!.roles).toEqual(['anchors']);
    expect(encodeAnchorStatement(d.set)).toEqual(d.payload);
    expect(d.set.owner).toEqual({ name: 'vendor.example' });
  });

  it('rotation of a firmware key and revocation: v2 signed by 2-of-2 of v1 and of v2', () => {
    const vFw3 = generateKey('ed25519');
    const v2: AnchorSetInput = { ...set1, version: 2, keys: [...set1.keys.filter((k) => k.kid !== vFw1.kid), withRoles(vFw3, 'firmware')], revoked: [vFw1.kid], previous: set1.digest! };
    const set2 = verifyAnchorStatement(signAnchorStatement(v2, [vRoot1, vRoot2]), set1);
    expect(set2.revoked).toEqual([vFw1.kid]);
    // firmware signed by the revoked key no longer verifies; by the new key it does
    expect(() => verifyEnvelopeWithAnchors(signEnvelope(unsigned, [vFw1]), set2)).toThrow(expect.objectContaining({ code: 'KEY_UNTRUSTED' }));
    expect(verifyEnvelopeWithAnchors(signEnvelope(unsigned, [vFw3]), set2).signers).toEqual([vFw3.kid]);
    expect(verifyEnvelopeWithAnchors(signEnvelope(unsigned, [vFw1]), set1).signers).toEqual([vFw1.kid]);
  });

  it('version must be exactly N+1 (no skipping, no replay)', () => {
    const v3 = signAnchorStatement({ ...v1, version: 3 }, [vRoot1, vRoot2]);
    expect(() => verifyAnchorStatement(v3, set1)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
    expect(() => verifyAnchorStatement(v1Bytes, set1)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
  });

  it('threshold of the OLD set is required: the new keys alone cannot take over', () => {
    const attacker1 = generateKey('p256');
    const attacker2 = generateKey('p256');
    const evil: AnchorSetInput = { version: 2, keys: [withRoles(attacker1, 'anchors', 'firmware'), withRoles(attacker2, 'anchors')], threshold: 1, anchorThreshold: 1, revoked: [] };
    expect(() => verifyAnchorStatement(signAnchorStatement(evil, [attacker1, attacker2]), set1)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
    // one of two old anchor keys is not enough either
    expect(() => verifyAnchorStatement(signAnchorStatement(evil, [vRoot1, attacker1]), set1)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
  });

  it('threshold of the NEW set is required: keys named but not held are refused', () => {
    const newRoot = generateKey('p256');
    const v2: AnchorSetInput = { ...set1, version: 2, keys: [...set1.keys, withRoles(newRoot, 'anchors')], anchorThreshold: 3 };
    expect(() => verifyAnchorStatement(signAnchorStatement(v2, [vRoot1, vRoot2]), set1)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
    expect(verifyAnchorStatement(signAnchorStatement(v2, [vRoot1, vRoot2, newRoot]), set1).anchorThreshold).toBe(3);
  });

  it('vendor → owner handover, then the vendor has no power left', () => {
    const oRoot = generateKey('ed25519');
    const oFw = generateKey('ed25519');
    const handover: AnchorSetInput = {
      version: 2,
      keys: [withRoles(oRoot, 'anchors'), withRoles(oFw, 'firmware')],
      threshold: 1,
      anchorThreshold: 1,
      revoked: [],
      owner: { name: 'owner.example', previous: 'vendor.example' },
      previous: set1.digest!,
    };
    const s2 = signAnchorStatement(handover, [vRoot1, vRoot2, oRoot]);
    const set2 = verifyAnchorChain(set1, [s2]);
    expect(set2.owner).toEqual({ name: 'owner.example', previous: 'vendor.example' });
    expect(() => verifyEnvelopeWithAnchors(signEnvelope(unsigned, [vFw1]), set2)).toThrow(expect.objectContaining({ code: 'KEY_UNTRUSTED' }));
    expect(verifyEnvelopeWithAnchors(signEnvelope(unsigned, [oFw]), set2).signers).toEqual([oFw.kid]);
    // the vendor cannot sign v3 any more
    const vendorBack: AnchorSetInput = { ...v1, version: 3 };
    expect(() => verifyAnchorChain(set1, [s2, signAnchorStatement(vendorBack, [vRoot1, vRoot2])])).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
  });

  it('revocation is permanent and a chain must link by digest', () => {
    const v2 = signAnchorStatement({ ...set1, version: 2, keys: set1.keys.filter((k) => k.kid !== vFw2.kid), revoked: [vFw2.kid] }, [vRoot1, vRoot2]);
    const set2 = verifyAnchorStatement(v2, set1);
    const unrevoke = signAnchorStatement({ ...set2, version: 3, revoked: [] }, [vRoot1, vRoot2]);
    expect(() => verifyAnchorStatement(unrevoke, set2)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
    const wrongPrev = signAnchorStatement({ ...set2, version: 3, previous: 'ab'.repeat(32) }, [vRoot1, vRoot2]);
    expect(() => verifyAnchorStatement(wrongPrev, set2)).toThrow(expect.objectContaining({ code: 'ANCHOR_CHAIN_BROKEN' }));
  });

  it('a tampered signature by a named anchor key is SIGNATURE_INVALID; shape errors are ANCHOR_STATEMENT_MALFORMED', () => {
    const good = signAnchorStatement({ ...set1, version: 2 }, [vRoot1, vRoot2]);
    const t = new Uint8Array(good);
    t[t.length - 1]! ^= 1;
    expect(() => verifyAnchorStatement(t, set1)).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }));
    expect(() => encodeAnchorStatement({ ...v1, anchorThreshold: 3 })).toThrow(expect.objectContaining({ code: 'ANCHOR_STATEMENT_MALFORMED' }));
    expect(() => encodeAnchorStatement({ ...v1, revoked: [vFw1.kid] })).toThrow(expect.objectContaining({ code: 'ANCHOR_STATEMENT_MALFORMED' }));
  });

  it('every single-bit flip of a statement is refused with a typed code', () => {
    const good = signAnchorStatement({ ...set1, version: 2 }, [vRoot1, vRoot2]);
    for (let i = 0; i < good.length; i += 3) {
      const t = new Uint8Array(good);
      t[i]! ^= 1 << i % 8;
      let code: string | undefined;
      try {
        verifyAnchorStatement(t, set1);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, `byte ${i}`).toBeDefined();
    }
  });
});
