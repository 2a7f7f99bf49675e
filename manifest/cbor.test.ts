import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, fromHex, spanOf, Tagged, toDiagnostic, toHex, type CborValue } from './cbor.js';
import { UpdateError } from './errors.js';

function codeOf(hex: string, opts = {}): string {
  try {
    decodeCbor(fromHex(hex), opts);
    return 'OK';
  } catch (e) {
    if (!(e instanceof UpdateError)) throw e;
    return e.code;
  }
}

// Each row: hex input, expected code, what is wrong with it.
const MALFORMED: [string, string, string][] = [
  ['', 'CBOR_MALFORMED', 'empty input'],
  ['18', 'CBOR_MALFORMED', 'uint head promises one more byte'],
  ['19 01', 'CBOR_MALFORMED', 'uint16 truncated'],
  ['43 01 02', 'CBOR_MALFORMED', 'byte string of 3 with 2 bytes'],
  ['1c', 'CBOR_MALFORMED', 'reserved additional information 28'],
  ['5f 41 00 ff', 'CBOR_INDEFINITE_LENGTH', 'indefinite byte string'],
  ['9f 01 ff', 'CBOR_INDEFINITE_LENGTH', 'indefinite array'],
  ['bf 01 02 ff', 'CBOR_INDEFINITE_LENGTH', 'indefinite map'],
  ['a2 01 02 01 03', 'CBOR_DUPLICATE_KEY', 'map repeats key 1'],
  ['a2 61 61 01 61 61 02', 'CBOR_DUPLICATE_KEY', 'map repeats text key "a"'],
  ['01 02', 'CBOR_TRAILING_BYTES', 'two items where one is allowed'],
  ['62 c3 28', 'CBOR_MALFORMED', 'text string with invalid UTF-8'],
  ['ff', 'CBOR_MALFORMED', 'lone break code'],
  ['f9 3c 00', 'CBOR_UNSUPPORTED', 'half-precision float outside the profile'],
  ['f0', 'CBOR_UNSUPPORTED', 'unassigned simple value'],
  ['a1 41 00 01', 'CBOR_UNSUPPORTED', 'byte-string map key'],
  ['9b 00 00 00 01 00 00 00 00', 'CBOR_MALFORMED', 'array claims 2^32 items in 9 bytes'],
  ['5a ff ff ff ff 00', 'CBOR_MALFORMED', 'byte string longer than the input'],
  ['81'.repeat(40) + '01', 'CBOR_TOO_DEEP', 'forty nested arrays'],
  ['d8 6b'.repeat(40) + '01', 'CBOR_TOO_DEEP', 'forty nested tags'],
];

describe('decodeCbor refuses hostile input with a stable code', () => {
  for (const [hex, code, why] of MALFORMED) {
    it(`${why} → ${code}`, () => expect(codeOf(hex.replace(/ /g, ''))).toBe(code));
  }
  it('refuses input over the size limit before decoding', () => {
    expect(codeOf('4a' + '00'.repeat(10), { maxBytes: 8 })).toBe('INPUT_TOO_LARGE');
  });
  it('in deterministic mode refuses non-shortest heads and unsorted keys', () => {
    expect(codeOf('1801', { requireDeterministic: true })).toBe('CBOR_NOT_PREFERRED');
    expect(codeOf('a2020101 01'.replace(/ /g, ''), { requireDeterministic: true })).toBe('CBOR_NOT_PREFERRED');
    expect(codeOf('a2010102 01'.replace(/ /g, ''), { requireDeterministic: true })).toBe('OK');
  });
});

describe('encodeCbor', () => {
  it('follows RFC 8949 Appendix A examples', () => {
    const rows: [CborValue, string][] = [
      [0, '00'], [23, '17'], [24, '1818'], [1000, '1903e8'], [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'], [18446744073709551615n, '1bffffffffffffffff'],
      [-1, '20'], [-1000, '3903e7'], [-18446744073709551616n, '3bffffffffffffffff'],
      ['IETF', '6449455446'], [new Uint8Array([1, 2, 3, 4]), '4401020304'],
      [[1, [2, 3], [4, 5]], '8301820203820405'], [new Map([[1, 2], [3, 4]]), 'a201020304'],
      [new Tagged(1, 1363896240), 'c11a514b67b0'], [true, 'f5'], [null, 'f6'],
    ];
    for (const [v, hex] of rows) expect(toHex(encodeCbor(v))).toBe(hex);
  });
  it('sorts map keys by their encoded bytes (core deterministic)', () => {
    const m = new Map<number | string, CborValue>([['a', 1], [-1, 2], [10, 3], [1, 4]]);
    expect(toHex(encodeCbor(m))).toBe('a4' + '0104' + '0a03' + '2002' + '616101');
  });
});

const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 16 }, // below the decoder's default nesting limit of 32
    fc.integer(),
    fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.uniqueArray(fc.tuple(fc.oneof(fc.integer(), fc.string()), tie('v')), { maxLength: 5, selector: (t) => `${typeof t[0]}:${t[0]}` }).map((e) => new Map(e)),
    fc.tuple(fc.nat(1000), tie('v')).map(([t, v]) => new Tagged(t, v)),
  ),
})).v;

describe('property: codec', () => {
  it('encode → decode → encode is the identity on bytes', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        const b = encodeCbor(v);
        const again = encodeCbor(decodeCbor(b, { maxBytes: Infinity, requireDeterministic: true }));
        expect(toHex(again)).toBe(toHex(b));
      }),
      { numRuns: 500 },
    );
  });
  it('random bytes never throw anything but UpdateError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeCbor(b);
        } catch (e) {
          expect(e).toBeInstanceOf(UpdateError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('spanOf returns the exact received bytes of nested items', () => {
    const inner = fromHex('1801'); // non-preferred on purpose: a re-encoding would differ
    const outer = new Uint8Array([0x82, 0x42, ...inner, 0x80]);
    const v = decodeCbor(outer) as CborValue[];
    expect(toHex(spanOf(v[0])!)).toBe('421801');
    expect(toHex(spanOf(v)!)).toBe(toHex(outer));
    expect(toDiagnostic(v)).toContain("h'1801'");
  });
});
