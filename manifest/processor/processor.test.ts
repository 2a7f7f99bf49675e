import { describe, expect, it } from 'vitest';
import { Tagged, fromHex } from '../cbor.js';
import { ERRORS } from '../errors.js';
import { CMD, PARAM, REPORT_REASON } from '../keys.js';
import { computeDigest } from '../envelope/index.js';
import type { SuitDigest, SuitManifest } from '../model.js';
import { MemoryPlatform, type MemoryPlatformOptions } from './memory-platform.js';
import { componentIdKey } from './platform.js';
import { Processor, versionMatches, type ProcessorOptions } from './processor.js';
import { C0, C1, C2, manifest, seq } from './testing.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const VENDOR = new Uint8Array(16).fill(0xfa);
const CLASS = new Uint8Array(16).fill(0x14);
const DEVICE = new Uint8Array(16).fill(0xde);
const OTHER = new Uint8Array(16).fill(0x77);
const IMAGE = new TextEncoder().encode('firmware image bytes');
const IMAGE_DIGEST = computeDigest(-16, IMAGE);

function platform(o: MemoryPlatformOptions = {}): MemoryPlatform {
  return new MemoryPlatform({ vendorIds: [OTHER, VENDOR], classIds: [CLASS], deviceIds: [DEVICE], ...o });
}

async function run(m: SuitManifest, p: MemoryPlatform, opts: Partial<ProcessorOptions> = {}) {
  return new Processor(m, p, { sections: ['validate'], ...opts }).run();
}

describe('conditions', () => {
  it('vendor/class/device match any of the platform ids', async () => {
    const m = manifest({
      validate: seq(
        { override: [[PARAM.VENDOR_IDENTIFIER, VENDOR], [PARAM.CLASS_IDENTIFIER, CLASS], [PARAM.DEVICE_IDENTIFIER, DEVICE]] },
        [CMD.VENDOR_IDENTIFIER, 15],
        [CMD.CLASS_IDENTIFIER, 15],
        [CMD.DEVICE_IDENTIFIER, 15],
      ),
    });
    const r = await run(m, platform());
    expect(r.ok).toBe(true);
    expect(r.report.result).toBe(true);
    expect(r.report.records).toHaveLength(3);
    expect(r.report.records[0]!.properties.get(PARAM.VENDOR_IDENTIFIER)).toEqual(VENDOR);
  });

  it.each([
    [CMD.VENDOR_IDENTIFIER, PARAM.VENDOR_IDENTIFIER, 'VENDOR_MISMATCH'],
    [CMD.CLASS_IDENTIFIER, PARAM.CLASS_IDENTIFIER, 'CLASS_MISMATCH'],
    [CMD.DEVICE_IDENTIFIER, PARAM.DEVICE_IDENTIFIER, 'DEVICE_MISMATCH'],
  ] as const)('condition %i mismatch → %s with failing record and report byte', async (cmd, param, code) => {
    const m = manifest({ validate: seq({ override: [[param, new Uint8Array(16).fill(1)]] }, [cmd, 2]) });
    const r = await run(m, platform());
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe(code);
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.code).toBe(ERRORS[code].report);
    expect(res.reason).toBe(REPORT_REASON.CONDITION_FAILED);
    expect(res.record).toMatchObject({ section: 7, offset: 2, componentIndex: 0, manifestId: [] });
    expect(r.report.records).toHaveLength(1); // policy bit 2 = record on failure
  });

  it('vendor id as CBOR PEN (#6.112) matches binary', async () => {
    const pen = new Tagged(112, new Uint8Array([0x1a, 0x2b]));
    const m = manifest({ validate: seq({ override: [[PARAM.VENDOR_IDENTIFIER, new Tagged(112, new Uint8Array([0x1a, 0x2b]))]] }, [CMD.VENDOR_IDENTIFIER]) });
    expect((await run(m, platform({ vendorIds: [pen] }))).ok).toBe(true);
    expect((await run(m, platform())).error?.code).toBe('VENDOR_MISMATCH');
  });

  it('image-match: digest and image-size; image-not-match inverse', async () => {
    const p = platform();
    p.install(C0, IMAGE);
    const good = manifest({ validate: seq({ override: [[PARAM.IMAGE_DIGEST, IMAGE_DIGEST], [PARAM.IMAGE_SIZE, IMAGE.length]] }, [CMD.IMAGE_MATCH, 15]) });
    expect((await run(good, p)).ok).toBe(true);
    const badSize = manifest({ validate: seq({ override: [[PARAM.IMAGE_DIGEST, IMAGE_DIGEST], [PARAM.IMAGE_SIZE, IMAGE.length + 1]] }, [CMD.IMAGE_MATCH]) });
    expect((await run(badSize, p)).error?.code).toBe('IMAGE_MISMATCH');
    const other = computeDigest(-16, new Uint8Array([1]));
    const bad = manifest({ validate: seq({ override: [[PARAM.IMAGE_DIGEST, other]] }, [CMD.IMAGE_MATCH]) });
    expect((await run(bad, p)).error?.code).toBe('IMAGE_MISMATCH');
    const notMatch = manifest({ validate: seq({ override: [[PARAM.IMAGE_DIGEST, other]] }, [CMD.IMAGE_NOT_MATCH]) });
    expect((await run(notMatch, p)).ok).toBe(true);
    const notMatchFails = manifest({ validate: seq({ override: [[PARAM.IMAGE_DIGEST, IMAGE_DIGEST]] }, [CMD.IMAGE_NOT_MATCH]) });
    expect((await run(notMatchFails, p)).error?.code).toBe('CONDITION_FAILED');
    // empty component never matches
    expect((await run(good, platform())).error?.code).toBe('IMAGE_MISMATCH');
  });

  it('image-match without image-digest fails with PARAMETER_MISSING as a condition failure', async () => {
    const r = await run(manifest({ validate: seq([CMD.IMAGE_MATCH]) }), platform());
    expect(r.error?.code).toBe('PARAMETER_MISSING');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.reason).toBe(REPORT_REASON.CONDITION_FAILED);
    // ...so soft-failure can absorb it
    const soft = manifest({ validate: seq({ tryEach: [[[CMD.IMAGE_MATCH]], []] }) });
    expect((await run(soft, platform())).ok).toBe(true);
  });

  it('component-slot', async () => {
    const m = manifest({ validate: seq({ override: [[PARAM.COMPONENT_SLOT, 1]] }, [CMD.COMPONENT_SLOT, 5]) });
    expect((await run(m, platform({ slots: new Map([[componentIdKey(C0), 1]]) }))).ok).toBe(true);
    expect((await run(m, platform({ slots: new Map([[componentIdKey(C0), 0]]) }))).error?.code).toBe('CONDITION_FAILED');
    expect((await run(m, platform())).error?.code).toBe('CONDITION_FAILED');
  });

  it('check-content compares the whole content', async () => {
    const p = platform();
    p.install(C0, new Uint8Array([1, 2, 3]));
    expect((await run(manifest({ validate: seq({ override: [[PARAM.CONTENT, new Uint8Array([1, 2, 3])]] }, [CMD.CHECK_CONTENT]) }), p)).ok).toBe(true);
    expect((await run(manifest({ validate: seq({ override: [[PARAM.CONTENT, new Uint8Array([1, 2, 4])]] }, [CMD.CHECK_CONTENT]) }), p)).ok).toBe(false);
    expect((await run(manifest({ validate: seq({ override: [[PARAM.CONTENT, new Uint8Array([1, 2])]] }, [CMD.CHECK_CONTENT]) }), p)).ok).toBe(false);
  });

  it('abort always fails', async () => {
    expect((await run(manifest({ validate: seq([CMD.ABORT]) }), platform())).error?.code).toBe('CONDITION_FAILED');
  });

  it('use-before fails closed without a trusted clock', async () => {
    const m = manifest({ validate: seq({ override: [[PARAM.USE_BEFORE, 2_000_000_000]] }, [CMD.USE_BEFORE]) });
    expect((await run(m, platform())).error?.code).toBe('CONDITION_FAILED');
    expect((await run(m, platform({ now: 1_900_000_000 }))).ok).toBe(true);
    expect((await run(m, platform({ now: 2_000_000_000 }))).error?.code).toBe('CONDITION_FAILED');
    const undefinedClock = platform();
    undefinedClock.now = async () => undefined;
    expect((await run(m, undefinedClock)).ok).toBe(false);
  });

  it('minimum-battery, update-authorized: platform or COMMAND_UNSUPPORTED', async () => {
    const bat = manifest({ validate: seq({ override: [[PARAM.MINIMUM_BATTERY, 100]] }, [CMD.MINIMUM_BATTERY]) });
    expect((await run(bat, platform({ battery: 150 }))).ok).toBe(true);
    expect((await run(bat, platform({ battery: 50 }))).error?.code).toBe('CONDITION_FAILED');
    expect((await run(bat, platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
    const auth = manifest({ validate: seq([CMD.UPDATE_AUTHORIZED]) });
    expect((await run(auth, platform({ authorized: true }))).ok).toBe(true);
    expect((await run(auth, platform({ authorized: false }))).error?.code).toBe('CONDITION_FAILED');
    const r = await run(auth, platform());
    expect(r.error?.code).toBe('COMMAND_UNSUPPORTED');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.reason).toBe(REPORT_REASON.COMMAND_UNSUPPORTED);
  });

  it('version condition against the platform version', async () => {
    const m = (cmp: number, v: number[]) => manifest({ validate: seq({ override: [[PARAM.VERSION, { cmp, version: v }]] }, [CMD.VERSION]) });
    const p = platform({ versions: new Map([[componentIdKey(C0), [1, 4, 2]]]) });
    expect((await run(m(2, [1, 0]), p)).ok).toBe(true);
    expect((await run(m(5, [1, 10]), p)).ok).toBe(true);
    expect((await run(m(3, [1]), p)).ok).toBe(true);
    expect((await run(m(1, [1, 4, 2]), p)).ok).toBe(false);
    expect((await run(m(1, [1, 4, 2]), platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
  });

  it('unknown condition is a failure (soft-failable); unknown directive rejects', async () => {
    const unknownCond: SuitManifest = manifest({ validate: { commands: [{ kind: 'condition', code: 200, policy: 0, offset: 0 }], bytes: new Uint8Array() } });
    expect((await run(unknownCond, platform())).error?.code).toBe('CONDITION_FAILED');
    const unknownDir: SuitManifest = manifest({ validate: { commands: [{ kind: 'directive', code: 201, policy: 0, offset: 0 }], bytes: new Uint8Array() } });
    const r = await run(unknownDir, platform());
    expect(r.error?.code).toBe('COMMAND_UNSUPPORTED');
    // try-each does not rescue an unknown directive
    const inTry = manifest({ validate: seq({ tryEach: [[[201]], []] }) });
    expect((await run(inTry, platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
  });
});

describe('versionMatches (update-management pairwise compare)', () => {
  it.each([
    [[1, 2, 3], 3, [1], true],
    [[2, 0], 3, [1], false],
    [[1, 0, 5], 2, [1, 0], true],
    [[1, 9, 9], 5, [1, 10], true],
    [[1, 10], 5, [1, 10], false],
    [[1, 2], 1, [1, 2, -1, 3], true], // release above its RC
    [[1, 2, -1, 3], 4, [1, 2], true],
    [[1, 2], 4, [1, 2], true],
    [[1, 2], 9, [1, 2], false], // unknown comparison type
  ])('%j type %i %j → %s', (cur, cmp, v, want) => {
    expect(versionMatches(cur, { cmp, version: v })).toBe(want);
  });
});

describe('directives', () => {
  it('fetch writes the payload; invoke passes invoke-args', async () => {
    const p = platform({ remote: new Map([['https://x/fw', IMAGE]]), chunkSize: 3 });
    const m = manifest({
      payloadFetch: { present: seq({ override: [[PARAM.URI, 'https://x/fw']] }, [CMD.FETCH, 2]) },
      invoke: seq({ override: [[PARAM.INVOKE_ARGS, new Uint8Array([9])]] }, [CMD.INVOKE, 2]),
    });
    const r = await run(m, p, { sections: ['payload-fetch', 'invoke'] });
    expect(r.ok).toBe(true);
    expect(p.content(C0)).toEqual(IMAGE);
    expect(p.calls).toEqual(['fetch https://x/fw -> 00', 'invoke 00 args 09']);
  });

  it('fetch failure → FETCH_FAILED; missing uri → PARAMETER_MISSING', async () => {
    const p = platform();
    const m = manifest({ validate: seq({ override: [[PARAM.URI, 'https://nowhere']] }, [CMD.FETCH, 2]) });
    const r = await run(m, p);
    expect(r.error?.code).toBe('FETCH_FAILED');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.reason).toBe(REPORT_REASON.OPERATION_FAILED);
    expect(res.record.properties.get(PARAM.URI)).toBe('https://nowhere');
    expect((await run(manifest({ validate: seq([CMD.FETCH]) }), p)).error?.code).toBe('PARAMETER_MISSING');
  });

  it('a plain Error from the platform is wrapped per directive', async () => {
    const p = platform();
    p.invoke = async () => {
      throw new Error('boom');
    };
    expect((await run(manifest({ validate: seq([CMD.INVOKE]) }), p)).error?.code).toBe('INVOKE_FAILED');
  });

  it('fetch of an integrated payload URI writes it from the envelope', async () => {
    const p = platform();
    const m = manifest({ validate: seq({ override: [[PARAM.URI, '#fw']] }, [CMD.FETCH]) });
    const r = await run(m, p, { integrated: new Map([['#fw', IMAGE]]) });
    expect(r.ok).toBe(true);
    expect(p.content(C0)).toEqual(IMAGE);
  });

  it('write, copy, swap', async () => {
    const p = platform();
    const m = manifest({
      components: [C0, C1],
      validate: seq(
        { idx: 0 },
        { override: [[PARAM.CONTENT, new Uint8Array([1, 2])]] },
        [CMD.WRITE],
        { idx: 1 },
        { override: [[PARAM.SOURCE_COMPONENT, 0]] },
        [CMD.COPY],
        { idx: 0 },
        { override: [[PARAM.CONTENT, new Uint8Array([3])]] },
        [CMD.WRITE],
        { idx: 1 },
        [CMD.SWAP],
      ),
    });
    const r = await run(m, p);
    expect(r.ok).toBe(true);
    expect(p.content(C0)).toEqual(new Uint8Array([1, 2]));
    expect(p.content(C1)).toEqual(new Uint8Array([3]));
  });

  it('copy with source = target is rejected', async () => {
    const m = manifest({ validate: seq({ override: [[PARAM.SOURCE_COMPONENT, 0]] }, [CMD.COPY]) });
    expect((await run(m, platform())).error?.code).toBe('MANIFEST_MALFORMED');
  });

  it('copy from a component index beyond the manifest → COMPONENT_UNKNOWN', async () => {
    const m = manifest({ validate: seq({ override: [[PARAM.SOURCE_COMPONENT, 5]] }, [CMD.COPY]) });
    expect((await run(m, platform())).error?.code).toBe('COMPONENT_UNKNOWN');
  });

  it('wait and unlink: platform or COMMAND_UNSUPPORTED', async () => {
    const w = manifest({ validate: seq({ override: [[PARAM.WAIT_INFO, new Uint8Array([0xa0])]] }, [CMD.WAIT]) });
    expect((await run(w, platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
    const p = platform();
    const waited: Uint8Array[] = [];
    (p as { waitFor?: (i: Uint8Array) => Promise<void> }).waitFor = async (i) => void waited.push(i);
    expect((await run(w, p)).ok).toBe(true);
    expect(waited).toHaveLength(1);
    expect((await run(manifest({ validate: seq([CMD.UNLINK]) }), platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
  });

  it('custom commands: COMMAND_UNSUPPORTED unless registered', async () => {
    const m = manifest({ validate: seq({ custom: -300, arg: 5 }) });
    expect((await run(m, platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
    const seen: unknown[] = [];
    const p = platform({
      customCommands: new Map([[-300, { kind: 'condition' as const, run: async (arg: unknown) => (seen.push(arg), arg === 5) }]]),
    });
    expect((await run(m, p)).ok).toBe(true);
    expect(seen).toEqual([5]);
    const m2 = manifest({ validate: seq({ custom: -300, arg: 6 }) });
    expect((await run(m2, p)).error?.code).toBe('CONDITION_FAILED');
  });
});

describe('component index', () => {
  it('true runs each command once per component, in order', async () => {
    const p = platform();
    const m = manifest({ components: [C0, C1, C2], validate: seq({ idx: true }, { override: [[PARAM.CONTENT, new Uint8Array([7])]] }, [CMD.WRITE], [CMD.INVOKE]) });
    expect((await run(m, p)).ok).toBe(true);
    expect(p.calls).toEqual(['write 00', 'write 01', 'write 02', 'invoke 00', 'invoke 01', 'invoke 02']);
  });

  it('array selects components in array order; nested sequences see one index', async () => {
    const p = platform();
    const m = manifest({
      components: [C0, C1, C2],
      validate: seq({ idx: [2, 0] }, { run: [[CMD.INVOKE]] }, { tryEach: [[[CMD.INVOKE]], []] }),
    });
    const r = await run(m, p);
    expect(r.ok).toBe(true);
    expect(p.calls).toEqual(['invoke 02', 'invoke 00', 'invoke 02', 'invoke 00']);
    expect(r.trace.filter((t) => t.code === CMD.INVOKE).map((t) => t.componentIndex)).toEqual([2, 0, 2, 0]);
  });

  it('an index out of range → COMPONENT_UNKNOWN', async () => {
    expect((await run(manifest({ validate: seq({ idx: 1 }) }), platform())).error?.code).toBe('COMPONENT_UNKNOWN');
    expect((await run(manifest({ components: [C0, C1], validate: seq({ idx: [0, 3] }) }), platform())).error?.code).toBe('COMPONENT_UNKNOWN');
  });

  it('parameters are per component', async () => {
    const p = platform();
    const m = manifest({
      components: [C0, C1],
      validate: seq({ idx: 0 }, { override: [[PARAM.CONTENT, new Uint8Array([0])]] }, { idx: 1 }, { override: [[PARAM.CONTENT, new Uint8Array([1])]] }, { idx: true }, [CMD.WRITE]),
    });
    expect((await run(m, p)).ok).toBe(true);
    expect(p.content(C0)).toEqual(new Uint8Array([0]));
    expect(p.content(C1)).toEqual(new Uint8Array([1]));
  });

  it('override-multiple sets per component and leaves the index at the last key; copy-params copies', async () => {
    const p = platform();
    const m = manifest({
      components: [C0, C1, C2],
      validate: seq(
        { multiple: [[0, [[PARAM.CONTENT, new Uint8Array([10])]]], [1, [[PARAM.CONTENT, new Uint8Array([11])]]]] },
        [CMD.WRITE], // index is now 1
        { idx: 2 },
        { copyParams: [[0, [PARAM.CONTENT]]] },
        [CMD.WRITE],
      ),
    });
    expect((await run(m, p)).ok).toBe(true);
    expect(p.content(C1)).toEqual(new Uint8Array([11]));
    expect(p.content(C2)).toEqual(new Uint8Array([10]));
    expect(p.content(C0)).toBeUndefined();
  });
});

describe('parameters: override vs set-parameters', () => {
  it('set-parameters only sets unset parameters; override always sets', async () => {
    const p = platform();
    const m = manifest({
      validate: seq(
        { set: [[PARAM.CONTENT, new Uint8Array([1])]] },
        { set: [[PARAM.CONTENT, new Uint8Array([2])]] },
        [CMD.WRITE],
        { override: [[PARAM.CONTENT, new Uint8Array([3])]] },
        { set: [[PARAM.CONTENT, new Uint8Array([4])]] },
        [CMD.CHECK_CONTENT], // still [1]: fails
      ),
    });
    const r = await run(m, p);
    expect(p.content(C0)).toEqual(new Uint8Array([1]));
    expect(r.error?.code).toBe('CONDITION_FAILED');
  });

  it('parameters persist from the shared sequence and across sections; cleared per run', async () => {
    const p = platform();
    const m = manifest({
      shared: seq({ override: [[PARAM.VENDOR_IDENTIFIER, VENDOR]] }, [CMD.VENDOR_IDENTIFIER]),
      validate: seq({ override: [[PARAM.CONTENT, new Uint8Array([5])]] }),
      load: seq([CMD.WRITE]),
    });
    const r = await run(m, p, { sections: ['validate', 'load'] });
    expect(r.ok).toBe(true);
    expect(r.trace.filter((t) => t.shared)).toHaveLength(4); // shared runs before each section
    expect(p.content(C0)).toEqual(new Uint8Array([5]));
    // a fresh run does not see the old parameters
    expect((await run(m, p, { sections: ['load'] })).error?.code).toBe('PARAMETER_MISSING');
  });

  it('the shared sequence may not have side effects', async () => {
    const m = manifest({ shared: seq([CMD.INVOKE]), validate: seq() });
    expect((await run(m, platform())).error?.code).toBe('COMMAND_UNSUPPORTED');
  });
});

describe('try-each and run-sequence: soft-failure scoping', () => {
  it('try-each moves to the next branch on condition failure (soft-failure defaults true)', async () => {
    const p = platform();
    const m = manifest({
      validate: seq({
        tryEach: [
          [{ override: [[PARAM.VENDOR_IDENTIFIER, OTHER.map(() => 1)]] }, [CMD.VENDOR_IDENTIFIER, 2], [CMD.INVOKE]],
          [{ override: [[PARAM.VENDOR_IDENTIFIER, VENDOR]] }, [CMD.VENDOR_IDENTIFIER, 2], { override: [[PARAM.CONTENT, new Uint8Array([2])]] }, [CMD.WRITE]],
        ],
      }),
    });
    const r = await run(m, p);
    expect(r.ok).toBe(true);
    expect(p.calls).toEqual(['write 00']);
    expect(r.report.records).toHaveLength(1); // the soft failure is still recorded (policy 2)
  });

  it('all branches failing fails the try-each; a trailing nil allows it', async () => {
    const branches = [[[CMD.ABORT]], [[CMD.ABORT]]] as [number][][];
    expect((await run(manifest({ validate: seq({ tryEach: branches }) }), platform())).error?.code).toBe('CONDITION_FAILED');
    expect((await run(manifest({ validate: seq({ tryEach: branches, allowAllFail: true }, [CMD.INVOKE]) }), platform())).ok).toBe(true);
  });

  it('soft-failure false inside a try-each branch makes a condition failure fatal', async () => {
    const m = manifest({ validate: seq({ tryEach: [[{ override: [[PARAM.SOFT_FAILURE, false]] }, [CMD.ABORT]], []] }) });
    expect((await run(m, platform())).error?.code).toBe('CONDITION_FAILED');
  });

  it('a directive failure aborts even inside try-each', async () => {
    const m = manifest({ validate: seq({ tryEach: [[{ override: [[PARAM.URI, 'https://none']] }, [CMD.FETCH]], []] }) });
    expect((await run(m, platform())).error?.code).toBe('FETCH_FAILED');
  });

  it('run-sequence: soft-failure defaults false; set true absorbs the failure', async () => {
    const hard = manifest({ validate: seq({ run: [[CMD.ABORT]] }, [CMD.INVOKE]) });
    expect((await run(hard, platform())).error?.code).toBe('CONDITION_FAILED');
    const p = platform();
    const soft = manifest({ validate: seq({ run: [{ override: [[PARAM.SOFT_FAILURE, true]] }, [CMD.ABORT], [CMD.WRITE]] }, [CMD.INVOKE]) });
    expect((await run(soft, p)).ok).toBe(true);
    expect(p.calls).toEqual(['invoke 00']);
  });

  it('soft-failure is restored after the nested sequence and not inherited', async () => {
    // run-sequence sets soft-failure true; the following top-level abort must still be fatal
    const m = manifest({ validate: seq({ run: [{ override: [[PARAM.SOFT_FAILURE, true]] }] }, [CMD.ABORT]) });
    expect((await run(m, platform())).error?.code).toBe('CONDITION_FAILED');
    // a run-sequence nested in a try-each branch gets false again (not the branch's true)
    const nested = manifest({ validate: seq({ tryEach: [[{ run: [[CMD.ABORT]] }, [CMD.INVOKE]], []] }) });
    const p = platform();
    expect((await run(nested, p)).ok).toBe(true); // the run-sequence failure spreads to the branch, which is soft
    expect(p.calls).toEqual([]);
  });

  it('setting soft-failure outside try-each/run-sequence aborts', async () => {
    const m = manifest({ validate: seq({ override: [[PARAM.SOFT_FAILURE, true]] }) });
    expect((await run(m, platform())).error?.code).toBe('MANIFEST_MALFORMED');
  });
});

describe('processor checks', () => {
  it('rollback: strictly higher, or equal when allowed', async () => {
    const m = manifest({ sequenceNumber: 5, validate: seq() });
    expect((await run(m, platform(), { rollback: { installed: 4n, allowEqual: false } })).ok).toBe(true);
    const eq = await run(m, platform(), { rollback: { installed: 5n, allowEqual: false } });
    expect(eq.error?.code).toBe('ROLLBACK_REJECTED');
    const res = eq.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.code).toBe(ERRORS.ROLLBACK_REJECTED.report);
    expect(res.reason).toBe(REPORT_REASON.UNAUTHORISED);
    expect(res.record.section).toBe(2);
    expect((await run(m, platform(), { rollback: { installed: 5n, allowEqual: true } })).ok).toBe(true);
    expect((await run(m, platform(), { rollback: { installed: 6n, allowEqual: true } })).error?.code).toBe('ROLLBACK_REJECTED');
    expect((await run(m, platform(), { installedSequenceNumber: 5 })).error?.code).toBe('ROLLBACK_REJECTED');
    expect((await run(manifest({ sequenceNumber: 2n ** 64n - 1n, validate: seq() }), platform(), { rollback: { installed: 2n ** 63n, allowEqual: false } })).ok).toBe(true);
  });

  it('manifest version must be 1', async () => {
    const m = { ...manifest({ validate: seq() }), version: 2 } as unknown as SuitManifest;
    expect((await run(m, platform())).error?.code).toBe('MANIFEST_VERSION_UNSUPPORTED');
  });

  it('step limit → PROCESSOR_LIMIT', async () => {
    const many = seq(...Array.from({ length: 50 }, () => [CMD.INVOKE] as [number]));
    const r = await run(manifest({ validate: many }), platform(), { maxSteps: 20 });
    expect(r.error?.code).toBe('PROCESSOR_LIMIT');
    expect(r.trace.length).toBeLessThanOrEqual(21);
  });

  it('component count limit → PROCESSOR_LIMIT', async () => {
    const comps = Array.from({ length: 5 }, (_, i) => [new Uint8Array([i])]);
    expect((await run(manifest({ components: comps, validate: seq() }), platform(), { maxComponents: 4 })).error?.code).toBe('PROCESSOR_LIMIT');
  });

  it('severed section without a resolver → SEVERED_MEMBER_MISSING', async () => {
    const m = manifest({ install: { severed: { alg: -16, bytes: new Uint8Array(32) } } });
    const r = await run(m, platform(), { sections: ['install'] });
    expect(r.error?.code).toBe('SEVERED_MEMBER_MISSING');
  });

  it('absent sections are skipped (shared sequence too)', async () => {
    const p = platform();
    const r = await run(manifest({ shared: seq([CMD.ABORT]) }), p, { sections: ['load', 'invoke'] });
    expect(r.ok).toBe(true);
  });

  it('misuse throws USAGE', () => {
    expect(() => new Processor(manifest({}), platform(), { sections: [] })).toThrow(/section/);
    expect(() => new Processor(manifest({}), platform(), { sections: ['nope' as 'load'] })).toThrow(/unknown section/);
  });

  it('recordAll records every condition and directive', async () => {
    const p = platform();
    const r = await run(manifest({ validate: seq({ override: [[PARAM.VENDOR_IDENTIFIER, VENDOR]] }, [CMD.VENDOR_IDENTIFIER], [CMD.INVOKE]) }), p, { recordAll: true });
    expect(r.report.records.map((x) => x.offset)).toEqual([2, 4]);
  });
});

describe('dependencies (trust-domains)', () => {
  const depId = [new TextEncoder().encode('dependent.suit')];
  const deps = new Map([[1, { prefix: depId }]]);

  it('is-dependency is answered from suit-dependencies', async () => {
    const m = manifest({ dependencies: deps, validate: seq({ idx: 1 }, [CMD.IS_DEPENDENCY], { idx: 0 }, { tryEach: [[[CMD.IS_DEPENDENCY], [CMD.ABORT]], [[CMD.INVOKE]]] }) });
    const p = platform();
    expect((await run(m, p)).ok).toBe(true);
    expect(p.calls).toEqual(['invoke 00']);
  });

  it('process-dependency needs platform support and a passed dependency-integrity', async () => {
    const env = readHexFixture('suit/trust-domains/example0_dependent.hex');
    const d: SuitDigest = { alg: -16, bytes: fromHex('0f02caf6d3e61920d36bf3cea7f862a13bb8fb1f09c3f4c29b121feab78ef3d8') };
    const m = manifest({
      dependencies: deps,
      validate: seq({ idx: 1 }, { override: [[PARAM.IMAGE_DIGEST, d]] }, [CMD.IMAGE_MATCH], [CMD.DEPENDENCY_INTEGRITY], [CMD.PROCESS_DEPENDENCY]),
    });
    const plain = platform();
    plain.install(depId, env);
    expect((await run(m, plain)).error?.code).toBe('COMMAND_UNSUPPORTED');
    const p = platform({ dependencies: true });
    p.install(depId, env);
    expect((await run(m, p)).ok).toBe(true);
    expect(p.calls).toEqual([`process-dependency ${componentIdKey(depId)} section 7`]);
    const noIntegrity = manifest({ dependencies: deps, validate: seq({ idx: 1 }, [CMD.PROCESS_DEPENDENCY]) });
    expect((await run(noIntegrity, p)).error?.code).toBe('DEPENDENCY_FAILED');
    const wrong = new MemoryPlatform({ dependencies: true });
    wrong.install(depId, new Uint8Array([9]));
    expect((await run(m, wrong)).error?.code).toBe('IMAGE_MISMATCH');
    const noImageMatch = manifest({ dependencies: deps, validate: seq({ idx: 1 }, { override: [[PARAM.IMAGE_DIGEST, d]] }, [CMD.DEPENDENCY_INTEGRITY]) });
    expect((await run(noImageMatch, wrong)).error?.code).toBe('DEPENDENCY_FAILED');
  });
});
