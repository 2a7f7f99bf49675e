import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tagged, encodeCbor, fromHex, toHex, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError, isUpdateError } from '../errors.js';
import { PARAM, REPORT_REASON } from '../keys.js';
import { decodeReport, encodeReport, type SuitRecord, type SuitReport } from './report.js';

const digest = { alg: -16, bytes: fromHex('6658ea560262696dd1f13b782239a064da7c6c5cbaf52fded428a6fc83c7e5af') };
const record = (over: Partial<SuitRecord> = {}): SuitRecord => ({
  manifestId: [],
  section: 7,
  offset: 1,
  componentIndex: 0,
  properties: new Map<number, never>(),
  ...over,
});

const full: SuitReport = {
  reference: { uri: 'https://git.io/JJYoj', digest },
  nonce: new Uint8Array([1, 2, 3, 4]),
  records: [
    record({ offset: 82, properties: new Map([[PARAM.VENDOR_IDENTIFIER, fromHex('fa6b4a53d5ad5fdfbe9de663e4d41ffe')]]) }),
    record({
      manifestId: [1, 0],
      section: 20,
      offset: 35,
      componentIndex: 2,
      properties: new Map<number, never>([
        [PARAM.IMAGE_DIGEST, { alg: -16, bytes: new Uint8Array(32).fill(7) } as never],
        [PARAM.IMAGE_SIZE, 34768 as never],
        [PARAM.VERSION, { cmp: 2, version: [1, 2, -1, 3] } as never],
        [PARAM.URI, 'http://example.com/file.bin' as never],
        [PARAM.SOFT_FAILURE, true as never],
        [-300, 'custom' as never],
      ]),
    }),
  ],
  systemProperties: [{ componentId: [new Uint8Array([0])], properties: new Map([[PARAM.VENDOR_IDENTIFIER, new Tagged(112, new Uint8Array([0x1a]))]]) }],
  result: { code: 0x30, record: record({ offset: 82 }), reason: REPORT_REASON.CONDITION_FAILED },
  capabilities: new Map<CborKey, CborValue>([[4, [-16]]]),
};

describe('SUIT_Report codec', () => {
  it('round-trips a full report, deterministically', () => {
    const bytes = encodeReport(full);
    const back = decodeReport(bytes);
    expect(back).toEqual(full);
    expect(encodeReport(back)).toEqual(bytes);
  });

  it('encodes the draft-18 structure: keys 99, 2, 3, 4 (success = true)', () => {
    const ok: SuitReport = { reference: { uri: '', digest }, records: [], result: true };
    // {3: [], 4: true, 99: ["", [-16, h'..']]} in deterministic key order
    expect(toHex(encodeReport(ok))).toBe(`a30380 04f5 1863 82 60 82 2f 5820${toHex(digest.bytes)}`.replace(/ /g, ''));
  });

  it('image-digest and version properties are bstr-wrapped on the wire', () => {
    const r: SuitReport = { reference: { uri: '', digest }, records: [full.records[1]!], result: true };
    const hex = toHex(encodeReport(r));
    expect(hex).toContain(`035824822f5820${'07'.repeat(32)}`);
    expect(hex).toContain(toHex(encodeCbor([2, [1, 2, -1, 3]])));
  });

  it.each([
    ['not a map', '80'],
    ['missing reference', 'a20380 04f5'],
    ['missing records', 'a2 04f5 1863 8260 822f40'],
    ['missing result', 'a2 0380 1863 8260 822f40'],
    ['result false', 'a3 0380 04f4 1863 8260 822f40'],
    ['unknown top-level key', 'a4 0380 04f5 0901 1863 8260 822f40'],
    ['record of 4 elements', 'a3 0381 84 80 07 01 00 04f5 1863 8260 822f40'],
    ['negative offset', 'a3 0381 85 80 07 20 00 a0 04f5 1863 8260 822f40'],
    ['manifest-id not array', 'a3 0381 85 00 07 01 00 a0 04f5 1863 8260 822f40'],
    ['image-digest not bstr', 'a3 0381 85 80 07 01 00 a1 03 822f40 04f5 1863 8260 822f40'],
    ['uri not text', 'a3 0381 85 80 07 01 00 a1 15 40 04f5 1863 8260 822f40'],
    ['result map without reason', 'a3 0380 04 a2 0501 06 85 80 07 01 00 a0 1863 8260 822f40'],
    ['nonce not bstr', 'a4 0201 0380 04f5 1863 8260 822f40'],
    ['sysinfo without component id', 'a3 0381 a1 01 40 04f5 1863 8260 822f40'],
    ['trailing bytes', 'a3 0380 04f5 1863 8260 822f40 00'],
    ['duplicate key', 'a3 0380 0380 1863 8260 822f40'],
    ['truncated', 'a3 0380 04f5 1863 8260 822f'],
  ])('%s → UpdateError', (_what, hex) => {
    expect(() => decodeReport(fromHex(hex.replace(/ /g, '')))).toThrow(UpdateError);
  });

  it('shape errors are REPORT_MALFORMED', () => {
    try {
      decodeReport(fromHex('80'));
      expect.unreachable();
    } catch (e) {
      expect(isUpdateError(e, 'REPORT_MALFORMED')).toBe(true);
    }
  });

  it('random bytes never throw anything but UpdateError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeReport(b);
        } catch (e) {
          if (!(e instanceof UpdateError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutations of a valid report never throw anything but UpdateError', () => {
    const base = encodeReport(full);
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const b = base.slice();
        b[i] = v;
        try {
          decodeReport(b);
        } catch (e) {
          if (!(e instanceof UpdateError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random records round-trip', () => {
    const arbRecord = fc.record({
      manifestId: fc.array(fc.nat(1000), { maxLength: 3 }),
      section: fc.constantFrom(7, 8, 9, 15, 16, 18, 20),
      offset: fc.nat(100000),
      componentIndex: fc.nat(20),
      properties: fc
        .array(
          fc.oneof(
            fc.tuple(fc.constant(PARAM.URI), fc.string()),
            fc.tuple(fc.constant(PARAM.IMAGE_SIZE), fc.nat()),
            fc.tuple(fc.constant(PARAM.CONTENT), fc.uint8Array({ maxLength: 8 })),
            fc.tuple(fc.constant(PARAM.STRICT_ORDER), fc.boolean()),
          ),
          { maxLength: 4 },
        )
        .map((e) => new Map<number, never>(e as [number, never][])),
    });
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 4 }), fc.option(arbRecord, { nil: undefined }), (records, failing) => {
        const r: SuitReport = {
          reference: { uri: 'u', digest },
          records,
          result: failing === undefined ? true : { code: 0x35, record: failing, reason: 10 },
        };
        expect(decodeReport(encodeReport(r))).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
