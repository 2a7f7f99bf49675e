import { describe, expect, it } from 'vitest';
import { bytesEqual, decodeCbor, encodeCbor, fromHex, Tagged, toHex } from '../cbor.js';
import type { CommandSequence, SuitText } from '../model.js';
import { computeDigest } from './digest.js';
import { buildEnvelope, checkManifestDigest, checkSeveredMembers, decodeEnvelope, encodeEnvelope, getSevered } from './envelope.js';
import { decodeManifest, encodeManifest } from './manifest.js';
import { summarizeEnvelope } from './summary.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const vec = (f: string): Uint8Array => readHexFixture(`suit/${f}`);

describe('decodeEnvelope on draft Example 0', () => {
  const bytes = vec('example0.hex');
  const env = decodeEnvelope(bytes);
  it('keeps the exact received bytes', () => {
    expect(env.tagged).toBe(true);
    expect(toHex(env.manifestBstr).slice(0, 10)).toBe('5871a50101');
    expect(toHex(env.digestBytes).slice(0, 12)).toBe('822f58206658');
    expect(env.authBlocks).toHaveLength(1);
    expect(env.authBlocks[0]![0]).toBe(0xd2); // tag 18 COSE_Sign1
    expect(bytesEqual(env.manifest.bytes, env.manifestBstr.subarray(2))).toBe(true);
  });
  it('models the manifest', () => {
    const m = env.manifest;
    expect(m.sequenceNumber).toBe(0);
    expect(m.common.components).toEqual([[new Uint8Array([0])]]);
    const shared = m.common.sharedSequence!;
    expect(shared.commands.map((c) => [c.kind, c.code, c.offset])).toEqual([
      ['set-parameters', 20, 1],
      ['condition', 1, 82],
      ['condition', 2, 84],
    ]);
    const p = (shared.commands[0] as Extract<CommandSequence['commands'][number], { kind: 'set-parameters' }>).params;
    expect(toHex(p.get(1) as Uint8Array)).toBe('fa6b4a53d5ad5fdfbe9de663e4d41ffe');
    expect(p.get(3)).toEqual({ alg: -16, bytes: fromHex('00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210') });
    expect(p.get(14)).toBe(34768);
    expect(m.validate!.commands).toEqual([{ kind: 'condition', code: 3, policy: 15, offset: 1 }]);
    expect(m.invoke!.commands).toEqual([{ kind: 'directive', code: 23, policy: 2, offset: 1 }]);
    // The offset points at the command's item inside the sequence bytes.
    expect(shared.bytes[82]).toBe(0x01);
    expect(shared.bytes[84]).toBe(0x02);
  });
  it('summarizes', () => {
    const s = summarizeEnvelope(env);
    expect(s.vendorId).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(s.classId).toBe('1492af14-2569-5e48-bf42-9b2d51f2ab45');
    expect(s.components[0]).toMatchObject({ index: 0, id: ['00'], imageSize: 34768 });
    expect(s.signatures).toEqual([{ kind: 'Sign1', alg: -7 }]);
    expect(s.sequences['validate']).toEqual([{ offset: 1, command: 3, name: 'condition-image-match', arg: 15 }]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('severable members (Example 2)', () => {
  const full = decodeEnvelope(vec('example2.hex'));
  const severedOnly = decodeEnvelope(vec('example2.severed-signed.hex'));
  it('verifies and returns the severed copies', () => {
    checkSeveredMembers(full);
    const install = getSevered(full, 20)!;
    expect(install.commands.some((c) => c.kind === 'directive' && c.code === 21)).toBe(true);
    const text = getSevered(full, 23) as SuitText;
    const en = text.byLanguage.get('en-US')!;
    expect(en.keys.get(1)).toContain('Example 2');
    expect(en.components[0]!.id).toEqual([new Uint8Array([0])]);
    expect(en.components[0]!.keys.get(3)).toBe('arm.com');
    expect(summarizeEnvelope(full).text?.['en-US']).toMatchObject({ components: [{ id: ['00'], 'vendor-domain': 'arm.com' }] });
  });
  it('throws SEVERED_MEMBER_MISSING when not carried', () => {
    expect(() => getSevered(severedOnly, 20)).toThrow(expect.objectContaining({ code: 'SEVERED_MEMBER_MISSING' }));
    expect(getSevered(severedOnly, 16)).toBeUndefined();
    expect(summarizeEnvelope(severedOnly).severed.map((s) => [s.key, s.carried])).toEqual([
      [20, false],
      [23, false],
    ]);
  });
  it('detects a tampered severed member', () => {
    const install = full.severed.get(20)!.slice();
    install[install.length - 1] = install[install.length - 1]! ^ 1;
    const env = { ...full, severed: new Map(full.severed).set(20, install) };
    expect(() => checkSeveredMembers(env)).toThrow(expect.objectContaining({ code: 'SEVERED_MEMBER_MISMATCH' }));
    expect(() => getSevered(env, 20)).toThrow(expect.objectContaining({ code: 'SEVERED_MEMBER_MISMATCH' }));
  });
  it('detects a tampered manifest', () => {
    const mb = full.manifestBstr.slice();
    mb[mb.length - 1] = mb[mb.length - 1]! ^ 1;
    expect(() => checkManifestDigest({ ...full, manifestBstr: mb })).toThrow(expect.objectContaining({ code: 'MANIFEST_DIGEST_MISMATCH' }));
  });
});

describe('buildEnvelope / encodeEnvelope', () => {
  it('rebuilds Example 2 from its manifest and severed contents', () => {
    const full = decodeEnvelope(vec('example2.unsigned.hex'));
    const signed = decodeEnvelope(vec('example2.hex'));
    const contents = new Map([...signed.severed].map(([k, b]) => [k, decodeCbor(b) as Uint8Array]));
    const built = buildEnvelope({ manifest: full.manifest.bytes, severed: contents });
    expect(built.bytes).toHaveLength(0);
    expect(toHex(built.digestBytes)).toBe(toHex(full.digestBytes));
    checkManifestDigest(built);
    const again = decodeEnvelope(encodeEnvelope(built));
    expect(bytesEqual(again.manifestBstr, full.manifestBstr)).toBe(true);
    expect(again.severed.size).toBe(2);
  });
  it('refuses a severed member that does not match', () => {
    const full = decodeEnvelope(vec('example2.unsigned.hex'));
    expect(() => buildEnvelope({ manifest: full.manifest.bytes, severed: new Map([[20, encodeCbor([21, 2])]]) })).toThrow(
      expect.objectContaining({ code: 'SEVERED_MEMBER_MISMATCH' }),
    );
  });
  it('supports other digest algorithms and untagged output', () => {
    const m = decodeEnvelope(vec('example0.hex')).manifest.bytes;
    for (const alg of [-16, -18, -43, -44, -45]) {
      const env = buildEnvelope({ manifest: m, digestAlg: alg, tagged: false });
      const back = decodeEnvelope(encodeEnvelope(env));
      expect(back.tagged).toBe(false);
      expect(back.digest.alg).toBe(alg);
      checkManifestDigest(back);
    }
  });
  it('encodes an untagged vector back untagged', () => {
    const b = vec('libcsuit/suit_manifest_expU.hex');
    const env = decodeEnvelope(b);
    expect(env.tagged).toBe(false);
    expect(bytesEqual(encodeEnvelope(env), b)).toBe(true);
    expect(() => decodeEnvelope(b, { allowUntagged: false })).toThrow(expect.objectContaining({ code: 'ENVELOPE_MALFORMED' }));
  });
  it('accepts a bare tag-1070 manifest only when allowed', () => {
    const m = decodeEnvelope(vec('example0.hex')).manifest;
    const bare = encodeCbor(new Tagged(1070, decodeCbor(m.bytes)));
    expect(() => decodeEnvelope(bare)).toThrow(expect.objectContaining({ code: 'ENVELOPE_MALFORMED' }));
    const env = decodeEnvelope(bare, { allowBareManifest: true });
    expect(env.authBlocks).toHaveLength(0);
    expect(bytesEqual(env.manifest.bytes, m.bytes)).toBe(true);
    checkManifestDigest(env);
    expect(env.digest).toEqual(computeDigest(-16, encodeCbor(m.bytes)));
  });
  it('re-encodes a decoded manifest through the model', () => {
    const m = decodeManifest(decodeEnvelope(vec('example4.hex')).manifest.bytes);
    expect(toHex(encodeManifest(m))).toBe(toHex(m.bytes));
  });
});
