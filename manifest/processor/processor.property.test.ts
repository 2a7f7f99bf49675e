/** Property: whatever a (well-typed) manifest says, the processor returns a result and never throws. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UpdateError } from '../errors.js';
import { CMD, PARAM } from '../keys.js';
import type { Command, CommandSequence, ParameterMap, ParamValue } from '../model.js';
import { MemoryPlatform } from './memory-platform.js';
import { Processor } from './processor.js';
import { decodeReport, encodeReport } from './report.js';
import { C0, C1, C2, manifest } from './testing.js';

const codes = [...Object.values(CMD), 9, 200, -300];
const paramEntry: fc.Arbitrary<[number, ParamValue]> = fc.oneof(
  fc.tuple(fc.constant(PARAM.CONTENT as number), fc.uint8Array({ maxLength: 4 })),
  fc.tuple(fc.constant(PARAM.URI as number), fc.constantFrom('https://a/1', 'https://none')),
  fc.tuple(fc.constant(PARAM.SOURCE_COMPONENT as number), fc.nat(3)),
  fc.tuple(fc.constant(PARAM.SOFT_FAILURE as number), fc.boolean()),
  fc.tuple(fc.constant(PARAM.STRICT_ORDER as number), fc.boolean()),
  fc.tuple(fc.constant(PARAM.COMPONENT_SLOT as number), fc.nat(2)),
  fc.tuple(fc.constant(PARAM.IMAGE_SIZE as number), fc.nat(5)),
  fc.tuple(fc.constant(PARAM.VENDOR_IDENTIFIER as number), fc.constantFrom(new Uint8Array(16), new Uint8Array(16).fill(1))),
  fc.tuple(fc.constant(PARAM.IMAGE_DIGEST as number), fc.constant({ alg: -16, bytes: new Uint8Array(32) })),
  fc.tuple(fc.constant(PARAM.VERSION as number), fc.record({ cmp: fc.integer({ min: 0, max: 6 }), version: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 3 }) })),
);
const params = fc.array(paramEntry, { maxLength: 3 }).map((e) => new Map(e) as ParameterMap);

const { sequence } = fc.letrec<{ sequence: CommandSequence; command: Command }>((tie) => ({
  sequence: fc.array(tie('command'), { maxLength: 6 }).map((commands) => ({ commands: commands.map((c, i) => ({ ...c, offset: i })), bytes: new Uint8Array() })),
  command: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('condition' as const), code: fc.constantFrom(...codes), policy: fc.nat(15), offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('directive' as const), code: fc.constantFrom(...codes), policy: fc.nat(15), offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('set-component-index' as const), code: fc.constant(12 as const), index: fc.oneof(fc.nat(3), fc.constant(true as const), fc.array(fc.nat(3), { minLength: 1, maxLength: 3 })), offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('set-parameters' as const), code: fc.constantFrom(19 as const, 20 as const), params, offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('try-each' as const), code: fc.constant(15 as const), sequences: fc.array(tie('sequence') as fc.Arbitrary<CommandSequence>, { minLength: 2, maxLength: 3 }), allowAllFail: fc.boolean(), offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('run-sequence' as const), code: fc.constant(32 as const), sequence: tie('sequence') as fc.Arbitrary<CommandSequence>, offset: fc.constant(0) }),
    fc.record({ kind: fc.constant('custom' as const), code: fc.constant(-300), arg: fc.constant(null), offset: fc.constant(0) }),
  ) as fc.Arbitrary<Command>,
}));

describe('processor robustness', () => {
  it('any command sequence yields a result (never a throw), within the step limit, with an encodable report', async () => {
    await fc.assert(
      fc.asyncProperty(sequence, sequence, async (shared, validate) => {
        const p = new MemoryPlatform({ vendorIds: [new Uint8Array(16)], remote: new Map([['https://a/1', new Uint8Array([1])]]), battery: 5, now: 0 });
        const r = await new Processor(manifest({ components: [C0, C1, C2], shared, validate }), p, { sections: ['validate', 'invoke'], maxSteps: 200 }).run();
        if (!r.ok) expect(r.error).toBeInstanceOf(UpdateError);
        expect(r.error?.code).not.toBe('INTERNAL');
        expect(r.trace.filter((t) => t.outcome !== 'error').length).toBeLessThanOrEqual(201);
        decodeReport(encodeReport(r.report));
      }),
      { numRuns: 400 },
    );
  });
});
