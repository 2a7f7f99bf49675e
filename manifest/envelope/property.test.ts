/**
 * Property tests (fast-check):
 *  - builder → encode → decode → encode is the identity, and the model survives the trip;
 *  - random bytes and random mutations of real envelopes never throw anything but UpdateError;
 *  - no single-bit flip of a vector envelope yields an envelope equivalent to the original (same
 *    manifest digest, same digest bytes, same auth blocks, severed members intact). The full
 *    "every flip is rejected by verifyEnvelope" property is in manifest/cose's tests.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, toHex } from '../cbor.js';
import { isUpdateError } from '../errors.js';
import { CMD, PARAM } from '../keys.js';
import type { ParameterMap, ParamValue } from '../model.js';
import { buildManifest, cond, custom, dir, overrideMultiple, overrideParams, runSequence, setIndex, setParams, tryEach, type ManifestSpec } from './builder.js';
import { computeDigest, decodeDigest, digestEquals } from './digest.js';
import { checkManifestDigest, checkSeveredMembers, decodeEnvelope, encodeEnvelope } from './envelope.js';
import { decodeCommandSequence, decodeManifest, encodeManifest, type CommandInput } from './manifest.js';
import { DEFAULT_LIMITS } from './limits.js';
import { summarizeEnvelope } from './summary.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const vec = (f: string): Uint8Array => readHexFixture(`suit/${f}`);

// ------------------------------------------------------------------------------ arbitraries

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const uuid = bytes(16, 16);
const digest = fc.constantFrom(-16, -18, -43, -44, -45).chain((alg) => bytes(0, 8).map((b) => computeDigest(alg, b)));

const paramEntry: fc.Arbitrary<[number, ParamValue]> = fc.oneof(
  uuid.map((v) => [PARAM.VENDOR_IDENTIFIER, v] as [number, ParamValue]),
  uuid.map((v) => [PARAM.CLASS_IDENTIFIER, v] as [number, ParamValue]),
  digest.map((v) => [PARAM.IMAGE_DIGEST, v] as [number, ParamValue]),
  fc.nat().map((v) => [PARAM.IMAGE_SIZE, v] as [number, ParamValue]),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => [PARAM.USE_BEFORE, v > BigInt(Number.MAX_SAFE_INTEGER) ? v : Number(v)] as [number, ParamValue]),
  fc.nat(7).map((v) => [PARAM.COMPONENT_SLOT, v] as [number, ParamValue]),
  fc.boolean().map((v) => [PARAM.SOFT_FAILURE, v] as [number, ParamValue]),
  fc.string().map((v) => [PARAM.URI, v] as [number, ParamValue]),
  bytes(0, 8).map((v) => [PARAM.CONTENT, v] as [number, ParamValue]),
  fc.integer({ min: -5, max: 5 }).map((v) => [PARAM.UPDATE_PRIORITY, v] as [number, ParamValue]),
  fc
    .record({ cmp: fc.integer({ min: 1, max: 5 }), version: fc.array(fc.integer({ min: -3, max: 99 }), { minLength: 1, maxLength: 4 }) })
    .map((v) => [PARAM.VERSION, v] as [number, ParamValue]),
  fc.integer({ min: -1000, max: -1 }).chain((k) => fc.oneof(fc.integer(), fc.string(), bytes(0, 4)).map((v) => [k, v] as [number, ParamValue])),
);
const paramMap: fc.Arbitrary<ParameterMap> = fc.array(paramEntry, { minLength: 1, maxLength: 5 }).map((es) => new Map(es));

// Every nested sequence is one more level of this oneof; capping it below DEFAULT_LIMITS.maxSequenceDepth
// keeps the generator inside what the decoder accepts (at the cap, oneof takes its first, non-recursive
// arbitrary). Deeper manifests are refused with PROCESSOR_LIMIT, which malformed.test.ts pins.
const command: fc.Arbitrary<CommandInput> = fc.letrec<{ cmd: CommandInput; seq: CommandInput[] }>((tie) => ({
  cmd: fc.oneof(
    { depthSize: 'small', withCrossShrink: true, maxDepth: DEFAULT_LIMITS.maxSequenceDepth - 2 },
    fc.constantFrom(1, 2, 3, 5, 6, 14, 24, 25, 28).chain((c) => fc.nat(15).map((p) => cond(c, p))),
    fc.constantFrom(CMD.FETCH, CMD.COPY, CMD.INVOKE, CMD.WRITE, CMD.SWAP).chain((c) => fc.nat(15).map((p) => dir(c, p))),
    fc.oneof(fc.nat(3), fc.constant(true as const), fc.array(fc.nat(3), { minLength: 1, maxLength: 3 })).map((i) => setIndex(i)),
    paramMap.map(overrideParams),
    paramMap.map(setParams),
    fc.tuple(fc.array(tie('seq') as fc.Arbitrary<CommandInput[]>, { minLength: 2, maxLength: 3 }), fc.boolean()).map(([s, a]) => tryEach(s, { allowAllFail: a })),
    (tie('seq') as fc.Arbitrary<CommandInput[]>).map(runSequence),
    fc.dictionary(fc.nat(3).map(String), paramMap, { minKeys: 1, maxKeys: 2 }).map((d) => overrideMultiple(Object.fromEntries(Object.entries(d)))),
    fc.tuple(fc.integer({ min: -2000, max: -1 }), fc.oneof(fc.integer(), fc.string(), bytes(0, 4), fc.constant(null))).map(([c, a]) => custom(c, a)),
  ),
  seq: fc.array(tie('cmd') as fc.Arbitrary<CommandInput>, { minLength: 1, maxLength: 4 }),
}))['cmd'];
const sequence = fc.array(command, { minLength: 1, maxLength: 5 });

const spec: fc.Arbitrary<ManifestSpec> = fc
  .record(
    {
      sequenceNumber: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      components: fc.array(
        fc.record(
          {
            id: fc.array(fc.oneof(bytes(0, 4), fc.string({ maxLength: 4 })), { maxLength: 3 }),
            vendorId: uuid,
            classId: uuid,
            imageDigest: digest,
            imageSize: fc.nat(),
            uri: fc.string(),
            slot: fc.nat(3),
          },
          { requiredKeys: ['id'] },
        ),
        { minLength: 1, maxLength: 3 },
      ),
      referenceUri: fc.string(),
      version: fc.array(fc.integer({ min: -3, max: 20 }), { minLength: 1, maxLength: 4 }),
      invoke: sequence,
      load: sequence,
      payloadFetch: sequence,
      text: fc.record({ manifestDescription: fc.string(), updateDescription: fc.string() }, { requiredKeys: [] }),
      severText: fc.boolean(),
      severInstall: fc.boolean(),
      severPayloadFetch: fc.boolean(),
      coswid: bytes(1, 1).map(() => Uint8Array.of(0xa0)),
      severCoswid: fc.boolean(),
    },
    { requiredKeys: ['sequenceNumber', 'components'] },
  )
  .map((s) => {
    // Sequences the builder defaults to may come out empty when components carry nothing: that is a valid spec.
    if (s.text && Object.keys(s.text).length === 0) delete s.text;
    if (s.sequenceNumber === undefined) s.sequenceNumber = 0;
    const n = s.sequenceNumber;
    return { ...s, sequenceNumber: typeof n === 'bigint' && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n } as ManifestSpec;
  });

/** Values as comparable JSON-ish structures (Maps → entry lists, bytes → hex, bigint → string). */
function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Map) {
    // Map order is not part of the model (the encoder sorts keys deterministically).
    return [...v].map(([k, x]) => [norm(k), norm(x)]).sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
  }
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    // A decoded CommandSequence compares as its command list (inputs may be plain arrays).
    if ('commands' in v && 'bytes' in v) return norm((v as { commands: unknown }).commands);
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (k !== 'bytes' && k !== 'offset' && x !== undefined) o[k] = norm(x);
    return o;
  }
  return v;
}

// ------------------------------------------------------------------------------ properties

describe('properties', () => {
  it('builder → encode → decode → encode is the identity', () => {
    fc.assert(
      fc.property(spec, (s) => {
        const built = buildManifest(s);
        const m = decodeManifest(built.bytes);
        expect(toHex(encodeManifest(m))).toBe(toHex(built.bytes));
        expect(norm(m)).toEqual(norm(built.manifest));
        // The envelope round trip keeps bytes and digest checks pass.
        const env = decodeEnvelope(encodeEnvelope(built.envelope()), { maxBytes: 1 << 20 });
        checkManifestDigest(env);
        checkSeveredMembers(env);
        expect(bytesEqual(env.manifest.bytes, built.bytes)).toBe(true);
        JSON.stringify(summarizeEnvelope(env));
      }),
      { numRuns: 300 },
    );
  });

  it('commands survive the trip with their kinds, codes and arguments', () => {
    fc.assert(
      fc.property(sequence, (cmds) => {
        const built = buildManifest({ sequenceNumber: 1, components: [{ id: ['x'] }], invoke: cmds });
        expect(norm(built.manifest.invoke!.commands)).toEqual(norm(cmds));
      }),
      { numRuns: 300 },
    );
  });

  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeEnvelope', (b) => decodeEnvelope(b)],
    ['decodeManifest', (b) => decodeManifest(b)],
    ['decodeCommandSequence', (b) => decodeCommandSequence(b)],
    ['decodeDigest', (b) => decodeDigest(b)],
  ];
  it.each(decoders)('%s: random bytes throw only UpdateError', (_name, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        try {
          decode(b);
        } catch (e) {
          if (!isUpdateError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random byte edits of real envelopes throw only UpdateError', () => {
    const bases = ['example2.hex', 'example4.hex', 'libcsuit/suit_manifest_expD.hex', 'libcsuit/suit_manifest_expU2.hex', 'trust-domains/example2_integrated.hex'].map(vec);
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (which, edits) => {
        const b = bases[which]!.slice();
        for (const [pos, val] of edits) b[pos % b.length] = val;
        try {
          const env = decodeEnvelope(b);
          summarizeEnvelope(env);
        } catch (e) {
          if (!isUpdateError(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it.each(['example0.hex', 'example2.hex', 'libcsuit/suit_manifest_expU2.hex'])('%s: no single-bit flip yields an equivalent envelope', (f) => {
    const original = vec(f);
    const ref = decodeEnvelope(original);
    let decodedFlips = 0;
    for (let i = 0; i < original.length * 8; i++) {
      const b = original.slice();
      b[i >> 3] = b[i >> 3]! ^ (1 << (i & 7));
      let env;
      try {
        env = decodeEnvelope(b);
      } catch (e) {
        expect(isUpdateError(e)).toBe(true);
        continue;
      }
      decodedFlips++;
      const digestOk = (() => {
        try {
          checkManifestDigest(env);
          checkSeveredMembers(env);
          return true;
        } catch (e) {
          expect(isUpdateError(e)).toBe(true);
          return false;
        }
      })();
      const same =
        digestOk &&
        digestEquals(computeDigest(ref.digest.alg, env.manifestBstr), ref.digest) &&
        bytesEqual(env.digestBytes, ref.digestBytes) &&
        env.authBlocks.length === ref.authBlocks.length &&
        env.authBlocks.every((a, j) => bytesEqual(a, ref.authBlocks[j]!)) &&
        env.integrated.size === ref.integrated.size &&
        [...env.integrated].every(([k, v]) => ref.integrated.has(k) && bytesEqual(v, ref.integrated.get(k)!));
      expect(same, `bit ${i} of ${f}`).toBe(false);
    }
    // Most flips are caught by decoding itself; the rest change signed bytes.
    expect(decodedFlips).toBeLessThan(original.length * 8);
  });
});
