import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../envelope/index.js';
import { CMD, PARAM } from '../keys.js';
import { describeManifest, describeSequence, DryRunPlatform, dryRunEnvelope } from './dry-run.js';
import { Processor } from './processor.js';
import { manifest, seq } from './testing.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const load = (name: string) => decodeEnvelope(readHexFixture(`suit/${name}`));

describe('DryRunPlatform', () => {
  it('lists what example 1 would do', async () => {
    const { result, lines } = await dryRunEnvelope(load('example1.hex'));
    expect(result.ok).toBe(true);
    expect(lines).toEqual([
      'would fetch http://example.com/file.bin into component [00]',
      'would check that component [00] has digest sha-256:00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210, 34768 bytes',
      'would check that component [00] has digest sha-256:00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210, 34768 bytes',
    ]);
    // recordAll: every condition and directive is in the report
    expect(result.report.records.length).toBeGreaterThan(5);
  });

  it('lists example 4 (fetch, copy, load, invoke over three components)', async () => {
    const { result, operations } = await dryRunEnvelope(load('example4.hex'));
    expect(result.ok).toBe(true);
    expect(operations.filter((o) => o.op !== 'image-match').map((o) => o.text)).toEqual([
      'would fetch http://example.com/file.bin into component [02]',
      'would copy component [02] into component [00]',
      'would copy component [00] into component [01]',
      'would invoke component [01]',
    ]);
  });

  it('evaluates identity conditions against a configured identity', async () => {
    const env = load('example0.hex');
    const p = new DryRunPlatform({ vendorIds: [new Uint8Array(16)], classIds: [] });
    const r = await new Processor(env.manifest, p, { sections: ['validate', 'invoke'] }).run();
    expect(r.error?.code).toBe('VENDOR_MISMATCH');
    expect(p.operations).toEqual([]);
  });

  it('can assume image mismatch, and fails use-before closed without a clock', async () => {
    const { result } = await dryRunEnvelope(load('example0.hex'), { assumeImageMatch: false });
    expect(result.error?.code).toBe('IMAGE_MISMATCH');
    const m = manifest({ validate: seq({ override: [[PARAM.USE_BEFORE, 10]] }, [CMD.USE_BEFORE]) });
    expect((await new Processor(m, new DryRunPlatform(), { sections: ['validate'] }).run()).ok).toBe(false);
    expect((await new Processor(m, new DryRunPlatform({ now: 5 }), { sections: ['validate'] }).run()).ok).toBe(true);
  });

  it('example 3: the default slot 0 picks the first branch', async () => {
    const { lines } = await dryRunEnvelope(load('example3.hex'));
    expect(lines[0]).toBe('would fetch http://example.com/file1.bin into component [00]');
    const { lines: l1 } = await dryRunEnvelope(load('example3.hex'), { slot: 1 });
    expect(l1[0]).toBe('would fetch http://example.com/file2.bin into component [00]');
  });
});

describe('describeSequence / describeManifest', () => {
  it('describes example 3 for humans', () => {
    const m = load('example3.hex').manifest;
    const text = describeManifest(m).join('\n');
    expect(text).toContain('shared-sequence:');
    expect(text).toContain('override-parameters: vendor-identifier = fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(text).toContain('try-each:');
    expect(text).toContain('branch 2:');
    expect(text).toContain('condition-component-slot [report: success, sysinfo-success]');
    expect(text).toContain('uri = "http://example.com/file2.bin"');
  });

  it('describes severed sections and index forms', () => {
    expect(describeManifest(load('example2.hex').manifest).join('\n')).toMatch(/install: severed \(digest cfa90c5c/);
    expect(describeSequence(seq({ idx: true }, { idx: [1, 2] }, { run: [[CMD.INVOKE, 2]] }))).toEqual([
      '@0 set-component-index all',
      '@2 set-component-index [1, 2]',
      '@4 run-sequence:',
      '  @0 directive-invoke [report: failure]',
    ]);
  });
});

describe('libcsuit vectors in a dry run', () => {
  const lib = (f: string) => load(`libcsuit/suit_manifest_${f}.hex`);
  it.each(['exp0', 'exp1', 'exp2B', 'exp3', 'exp4', 'exp5', 'expAF', 'expAFS', 'expAW', 'expED', 'expEW', 'expI', 'expS0', 'expS2', 'expS3', 'expU', 'expU1', 'expU3'])(
    '%s runs its Update and Invocation procedures',
    async (f) => {
      const { result, lines } = await dryRunEnvelope(lib(f));
      expect(result.error).toBeUndefined();
      expect(lines.length).toBeGreaterThan(0);
    },
  );

  it('exp2A: install is severed and not carried → SEVERED_MEMBER_MISSING', async () => {
    expect((await dryRunEnvelope(lib('exp2A'))).result.error?.code).toBe('SEVERED_MEMBER_MISSING');
  });

  it('expD: process-dependency without a prior integrity check is refused unless requireDependencyIntegrity is false', async () => {
    expect((await dryRunEnvelope(lib('expD'))).result.error?.code).toBe('DEPENDENCY_FAILED');
    const { result, lines } = await dryRunEnvelope(lib('expD'), { processor: { requireDependencyIntegrity: false } });
    expect(result.error).toBeUndefined();
    expect(lines.some((l) => l.startsWith('would process install of dependency'))).toBe(true);
  });

  it('expU0 (use-before) needs a trusted clock; expU2 (version) needs the installed version', async () => {
    expect((await dryRunEnvelope(lib('expU0'))).result.error?.code).toBe('CONDITION_FAILED');
    expect((await dryRunEnvelope(lib('expU0'), { now: 0, version: [1, 0] })).result.ok).toBe(true);
    expect((await dryRunEnvelope(lib('expU2'))).result.error?.code).toBe('CONDITION_FAILED');
    expect((await dryRunEnvelope(lib('expU2'), { version: [0, 9], now: 0 })).result.ok).toBe(true);
  });
});

describe('firmware-encryption manifests in a dry run', () => {
  const fe = (f: string) => load(`firmware-encryption/suit-manifest-${f}.hex.signed`);
  it('shows where a payload is decrypted', async () => {
    expect((await dryRunEnvelope(fe('aes-kw-content'))).lines).toEqual(["would write 46 bytes (decrypting) into component ['plaintext-firmware']"]);
    expect((await dryRunEnvelope(fe('aes-kw-slot'))).lines).toEqual([
      'would fetch coaps://example.com/encrypted-firmware into component [01]',
      'would copy component [01] into component [00] (decrypting)',
    ]);
    expect((await dryRunEnvelope(fe('es-ecdh-content'))).result.ok).toBe(true);
    expect((await dryRunEnvelope(fe('aes-kw'))).result.ok).toBe(true);
  });
  it('es-ecdh-dependency: writes the dependency, verifies and processes it', async () => {
    const { result, operations } = await dryRunEnvelope(fe('es-ecdh-dependency'));
    expect(result.ok).toBe(true);
    expect(operations.map((o) => o.op)).toEqual(['write', 'dependency-integrity', 'process-dependency']);
  });
});
