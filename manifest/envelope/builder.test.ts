import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../cbor.js';
import { CMD, PARAM } from '../keys.js';
import {
  buildManifest,
  cond,
  copyParams,
  custom,
  dir,
  overrideMultiple,
  overrideParams,
  runSequence,
  seq,
  setIndex,
  setParams,
  tryEach,
} from './builder.js';
import { readHexFixture } from '../../test/support/fixtures.js';
import { computeDigest } from './digest.js';
import { checkManifestDigest, checkSeveredMembers, decodeEnvelope, encodeEnvelope, getSevered } from './envelope.js';
import { encodeManifest } from './manifest.js';
import { summarizeEnvelope } from './summary.js';
import { classIdFrom, vendorIdFromDomain } from './uuid.js';

const vec = (f: string): Uint8Array => readHexFixture(`suit/${f}`);
const placeholder = { alg: -16, bytes: fromHex('00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210') };
const vendorId = vendorIdFromDomain('arm.com');
const classId = classIdFrom(vendorId, 'suit');

describe('buildManifest', () => {
  it('reproduces draft Example 1 byte for byte from its defaults', () => {
    const built = buildManifest({
      sequenceNumber: 1,
      components: [{ id: [new Uint8Array([0])], vendorId, classId, imageDigest: placeholder, imageSize: 34768, uri: 'http://example.com/file.bin' }],
    });
    const example1 = decodeEnvelope(vec('example1.unsigned.hex'));
    expect(toHex(built.bytes)).toBe(toHex(example1.manifest.bytes));
    const env = built.envelope();
    expect(toHex(env.digestBytes)).toBe(toHex(example1.digestBytes));
    expect(toHex(encodeEnvelope(env))).toBe(toHex(example1.bytes));
  });

  it('reproduces draft Example 0 with explicit sequences', () => {
    const built = buildManifest({
      sequenceNumber: 0,
      components: [{ id: [new Uint8Array([0])], vendorId, classId, imageDigest: placeholder, imageSize: 34768 }],
      invoke: seq(dir(CMD.INVOKE)),
    });
    expect(toHex(built.bytes)).toBe(toHex(decodeEnvelope(vec('example0.hex')).manifest.bytes));
  });

  it('severs text and install, and the envelope checks out', () => {
    const image = new TextEncoder().encode('firmware');
    const built = buildManifest({
      sequenceNumber: 1700000000n,
      referenceUri: 'https://updates.example.com/m/7',
      version: [1, 2, -1, 3],
      components: [
        { id: ['app'], vendorId: 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe', classId, imageDigest: computeDigest(-16, image), imageSize: image.length, uri: '#app', slot: 1 },
        { id: ['cfg', new Uint8Array([1])], imageDigest: computeDigest(-16, image), imageSize: 8, uri: 'https://x/cfg' },
      ],
      invoke: seq(setIndex(0), dir(CMD.INVOKE)),
      text: { manifestDescription: 'Release 7', components: { 0: { vendorName: 'Arm', version: '1.2-rc.3' } } },
      severText: true,
      severInstall: true,
    });
    expect(built.severed.size).toBe(2);
    const env = decodeEnvelope(encodeEnvelope(built.envelope({ integrated: new Map([['#app', image]]) })));
    checkManifestDigest(env);
    checkSeveredMembers(env);
    const install = getSevered(env, 20)!;
    expect(install.commands.map((c) => c.code)).toEqual([12, 20, 21, 3, 12, 20, 21, 3]);
    const s = summarizeEnvelope(env);
    expect(s.sequenceNumber).toBe(1700000000);
    expect(s.version).toBe('1.2-rc.3');
    expect(s.components.map((c) => c.uri)).toEqual(['#app', 'https://x/cfg']);
    expect(s.components[0]).toMatchObject({ slot: 1, vendorId: 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe' });
    expect(s.text?.['en']).toMatchObject({ 'manifest-description': 'Release 7', components: [{ id: ['617070'], 'vendor-name': 'Arm' }] });
    expect(s.integrated).toEqual([{ key: '#app', size: 8 }]);
    expect(s.severed.map((x) => x.key)).toEqual([20, 23]);
  });

  it('composes every command kind and round-trips it', () => {
    const built = buildManifest({
      sequenceNumber: 2 ** 40,
      components: [{ id: ['a'] }, { id: ['b'] }, { id: ['c'] }],
      sharedSequence: seq(setIndex(true), overrideParams({ vendorId, strictOrder: true, other: new Map([[-300, 'hint']]) }), cond(CMD.VENDOR_IDENTIFIER)),
      install: seq(
        setIndex([0, 2]),
        tryEach([seq(overrideParams({ slot: 0 }), cond(CMD.COMPONENT_SLOT, 5)), seq(overrideParams({ slot: 1 }), cond(CMD.COMPONENT_SLOT, 5))], { allowAllFail: true }),
        runSequence(seq(setParams({ softFailure: true }), cond(CMD.ABORT))),
        overrideMultiple({ 0: { uri: 'a' }, 1: { sourceComponent: 0, version: { cmp: 2, version: [1, 0] } } }),
        copyParams({ 0: [PARAM.URI, PARAM.IMAGE_DIGEST] }),
        custom(-257, new Uint8Array([1, 2])),
        custom(-258, null),
      ),
      validate: false,
    });
    const m = built.manifest;
    expect(toHex(encodeManifest(m))).toBe(toHex(built.bytes));
    const install = 'present' in m.install! ? m.install.present : undefined;
    expect(install!.commands.map((c) => c.kind)).toEqual([
      'set-component-index',
      'try-each',
      'run-sequence',
      'override-multiple',
      'copy-params',
      'custom',
      'custom',
    ]);
    expect(m.validate).toBeUndefined();
  });

  it('refuses misuse with USAGE', () => {
    expect(() => buildManifest({ sequenceNumber: 1, components: [] })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => cond(CMD.FETCH)).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => dir(CMD.VENDOR_IDENTIFIER)).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => overrideParams({ vendorId: 'nope' })).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => tryEach([seq(cond(1))])).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => buildManifest({ sequenceNumber: 1, components: [{ id: ['a'] }], text: { components: { 3: { vendorName: 'x' } } } })).toThrow(
      expect.objectContaining({ code: 'USAGE' }),
    );
  });
});
