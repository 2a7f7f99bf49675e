/**
 * The draft-ietf-suit-manifest-37 Appendix B examples run on a test platform.
 * The examples' image digests are placeholders (0011…3210 and 0123…eeff) that no real image hashes to, so
 * the platform "claims" those digests for the payloads it serves (MemoryPlatform.claim).
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../cbor.js';
import { ERRORS } from '../errors.js';
import { CMD, PARAM, REPORT_REASON } from '../keys.js';
import { decodeEnvelope } from '../envelope/index.js';
import { generateKey, parsePublicKey, verifyEnvelope } from '../cose/index.js';
import type { ComponentId, SuitDigest } from '../model.js';
import { MemoryPlatform } from './memory-platform.js';
import { processEnvelope } from './process-envelope.js';
import { componentIdKey } from './platform.js';
import { decodeReport, encodeReport } from './report.js';
import { readHexFixture } from '../../test/support/fixtures.js';

const load = (name: string) => decodeEnvelope(readHexFixture(`suit/${name}`));

const VENDOR = fromHex('fa6b4a53d5ad5fdfbe9de663e4d41ffe');
const CLASS = fromHex('1492af1425695e48bf429b2d51f2ab45');
const D_A: SuitDigest = { alg: -16, bytes: fromHex('00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210') };
const D_B: SuitDigest = { alg: -16, bytes: fromHex('0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff') };
const IMG_A = new Uint8Array(34768).fill(0xa5); // image-size 34768, digest D_A
const IMG_B = new Uint8Array(76834).fill(0x5b); // image-size 76834, digest D_B
const C = (b: number): ComponentId => [new Uint8Array([b])];

function device(extra: ConstructorParameters<typeof MemoryPlatform>[0] = {}): MemoryPlatform {
  const p = new MemoryPlatform({
    vendorIds: [VENDOR],
    classIds: [CLASS],
    remote: new Map([
      ['http://example.com/file.bin', IMG_A],
      ['http://example.com/file1.bin', IMG_A],
      ['http://example.com/file2.bin', IMG_B],
      ['http://example.com/very/long/path/to/file/file.bin', IMG_A],
    ]),
    ...extra,
  });
  p.claim(IMG_A, D_A);
  p.claim(IMG_B, D_B);
  return p;
}

/** Records as [section, offset, component, command-ish properties keys] for compact assertions. */
function summary(records: { section: number; offset: number; componentIndex: number; properties: Map<number, unknown> }[]) {
  return records.map((r) => [r.section, r.offset, r.componentIndex, [...r.properties.keys()]]);
}

function roundTrip(report: Parameters<typeof encodeReport>[0]): void {
  const bytes = encodeReport(report);
  expect(encodeReport(decodeReport(bytes))).toEqual(bytes);
}

describe('draft examples on a test platform', () => {
  it('example 0 (secure boot): validate + invoke, records per policy 15', async () => {
    const env = load('example0.hex');
    const p = device();
    p.install(C(0), IMG_A);
    const r = await processEnvelope(env, p, { sections: ['validate', 'invoke'], rollback: { installed: 0n, allowEqual: true } });
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(p.invoked).toEqual(['00']);
    expect(r.report.result).toBe(true);
    expect(r.report.reference).toEqual({ uri: '', digest: env.digest });
    // shared vendor(82)/class(84) before each section, image-match(1) in validate; invoke has policy 2 (failure only)
    expect(summary(r.report.records)).toEqual([
      [7, 82, 0, [1]],
      [7, 84, 0, [2]],
      [7, 1, 0, [3, 14]],
      [9, 82, 0, [1]],
      [9, 84, 0, [2]],
    ]);
    // policy 15 also asks for sysinfo: the device's own identity and image, once per component
    expect(r.report.systemProperties).toHaveLength(1);
    const sys = r.report.systemProperties![0]!;
    expect(sys.componentId).toEqual(C(0));
    expect(sys.properties).toEqual(
      new Map<number, unknown>([
        [PARAM.VENDOR_IDENTIFIER, VENDOR],
        [PARAM.CLASS_IDENTIFIER, CLASS],
        [PARAM.IMAGE_SIZE, 34768],
        [PARAM.IMAGE_DIGEST, D_A],
      ]),
    );
    roundTrip(r.report);
  });

  it('example 0 authenticated inside processing: the draft key passes, another key is reported as unauthorised', async () => {
    const env = load('example0.hex');
    const draftKey = parsePublicKey(
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb\nbz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==\n-----END PUBLIC KEY-----\n',
    );
    const p = device();
    p.install(C(0), IMG_A);
    const ok = await processEnvelope(env, p, { sections: ['validate'], verify: (e) => verifyEnvelope(e, [draftKey]) });
    expect(ok.error).toBeUndefined();
    const other = generateKey(-9).publicKey();
    const bad = await processEnvelope(env, device(), { sections: ['validate'], verify: (e) => verifyEnvelope(e, [other]) });
    expect(bad.ok).toBe(false);
    expect(['KEY_UNTRUSTED', 'SIGNATURE_INVALID']).toContain(bad.error?.code);
    const res = bad.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.reason).toBe(REPORT_REASON.UNAUTHORISED);
    expect(res.record.section).toBe(0);
    expect(bad.report.records).toEqual([]);
    expect(bad.trace).toEqual([]); // nothing ran
  });

  it('example 0 on a device of another vendor fails at vendor-identifier', async () => {
    const env = load('example0.hex');
    const p = device({ vendorIds: [new Uint8Array(16)] });
    const r = await processEnvelope(env, p, { sections: ['validate', 'invoke'] });
    expect(r.error?.code).toBe('VENDOR_MISMATCH');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res).toMatchObject({ code: ERRORS.VENDOR_MISMATCH.report, reason: REPORT_REASON.CONDITION_FAILED });
    expect(res.record).toMatchObject({ manifestId: [], section: 7, offset: 82, componentIndex: 0 });
    expect(res.record.properties.get(PARAM.VENDOR_IDENTIFIER)).toEqual(VENDOR);
    expect(p.invoked).toEqual([]);
    roundTrip(r.report);
  });

  it('example 0 with a different image fails at image-match and never invokes', async () => {
    const p = device();
    p.install(C(0), new Uint8Array(34768));
    const r = await processEnvelope(load('example0.hex'), p, { sections: ['validate', 'invoke'] });
    expect(r.error?.code).toBe('IMAGE_MISMATCH');
    expect(p.invoked).toEqual([]);
  });

  it('example 0 is rejected as a rollback when sequence 0 is installed and equality is not allowed', async () => {
    const r = await processEnvelope(load('example0.hex'), device(), { sections: ['validate'], rollback: { installed: 0n, allowEqual: false } });
    expect(r.error?.code).toBe('ROLLBACK_REJECTED');
    expect(r.report.records).toEqual([]);
  });

  it('example 1 (simultaneous download and installation): install fetches, then validate', async () => {
    const p = device();
    const r = await processEnvelope(load('example1.hex'), p, { sections: ['install', 'validate'], installedSequenceNumber: 0 });
    expect(r.ok).toBe(true);
    expect(p.calls).toEqual(['fetch http://example.com/file.bin -> 00']);
    expect(p.content(C(0))).toEqual(IMG_A);
    expect(summary(r.report.records)).toEqual([
      [20, 82, 0, [1]],
      [20, 84, 0, [2]],
      [20, 35, 0, [3, 14]],
      [7, 82, 0, [1]],
      [7, 84, 0, [2]],
      [7, 1, 0, [3, 14]],
    ]);
    roundTrip(r.report);
  });

  it('example 1 with an unreachable payload fails at fetch (FETCH_FAILED, operation-failed)', async () => {
    const p = device({ remote: new Map() });
    p.claim(IMG_A, D_A);
    const r = await processEnvelope(load('example1.hex'), p, { sections: ['install'] });
    expect(r.error?.code).toBe('FETCH_FAILED');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res).toMatchObject({ code: ERRORS.FETCH_FAILED.report, reason: REPORT_REASON.OPERATION_FAILED });
    expect(res.record).toMatchObject({ section: 20, offset: 33 });
    expect(res.record.properties.get(PARAM.URI)).toBe('http://example.com/file.bin');
    // policy 2 on fetch: the failure is also in the records
    expect(r.report.records.at(-1)).toEqual(res.record);
  });

  it('example 2 (severed install, reference URI): severed copy is used; absent copy → SEVERED_MEMBER_MISSING', async () => {
    const severed = load('example2.severed-signed.hex');
    const full = load('example2.hex');
    const withInstall = severed.severed.has(20) ? severed : full;
    expect(withInstall.severed.has(20)).toBe(true);
    const p = device();
    const r = await processEnvelope(withInstall, p, { sections: ['install', 'validate', 'invoke'] });
    expect(r.ok).toBe(true);
    expect(r.report.reference.uri).toBe('https://git.io/JJYoj');
    expect(p.invoked).toEqual(['00']);
    const stripped = { ...withInstall, severed: new Map() };
    const r2 = await processEnvelope(stripped, device(), { sections: ['install'] });
    expect(r2.error?.code).toBe('SEVERED_MEMBER_MISSING');
    const res = r2.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.reason).toBe(REPORT_REASON.SEVERING_UNSUPPORTED);
    // validate and invoke do not need the severed member
    const p3 = device();
    p3.install(C(0), IMG_A);
    expect((await processEnvelope(stripped, p3, { sections: ['validate', 'invoke'] })).ok).toBe(true);
  });

  it('example 3 (A/B images): try-each picks the slot the component is not running from', async () => {
    const env = load('example3.hex');
    for (const [slot, uri, img] of [
      [0, 'http://example.com/file1.bin', IMG_A],
      [1, 'http://example.com/file2.bin', IMG_B],
    ] as const) {
      const p = device({ slots: new Map([[componentIdKey(C(0)), slot]]) });
      const r = await processEnvelope(env, p, { sections: ['install', 'validate'] });
      expect(r.error).toBeUndefined();
      expect(p.calls).toEqual([`fetch ${uri} -> 00`]);
      expect(p.content(C(0))).toEqual(img);
      // component-slot has policy 5 (record on success + sysinfo): only the matching branch's check is recorded
      const slotRecords = r.report.records.filter((x) => x.properties.has(PARAM.COMPONENT_SLOT));
      expect(slotRecords.every((x) => x.properties.get(PARAM.COMPONENT_SLOT) === slot)).toBe(true);
      expect(slotRecords.length).toBeGreaterThan(0);
    }
    // a slot neither branch accepts: every branch fails → try-each fails
    const r = await processEnvelope(env, device({ slots: new Map([[componentIdKey(C(0)), 7]]) }), { sections: ['install'] });
    expect(r.error?.code).toBe('CONDITION_FAILED');
  });

  it('example 4 (load from external storage): fetch into [02], install copies, load decompresses to [01]', async () => {
    const env = load('example4.hex');
    const p = device();
    // "load" copies component 0 into RAM component [01] with digest D_B (a transformed image in reality).
    const copy = p.copy.bind(p);
    p.copy = async (dst, src, ctx) => {
      if (componentIdKey(dst) === '01') {
        p.calls.push(`load ${componentIdKey(src)} -> 01`);
        p.install(dst, IMG_B);
        return;
      }
      return copy(dst, src, ctx);
    };
    const r = await processEnvelope(env, p, { sections: ['payload-fetch', 'install', 'validate', 'load', 'invoke'] });
    expect(r.error).toBeUndefined();
    expect(p.calls).toEqual(['fetch http://example.com/file.bin -> 02', 'copy 02 -> 00', 'load 00 -> 01', 'invoke 01']);
    expect(r.report.result).toBe(true);
    roundTrip(r.report);
  });

  it('example 5 (two images): both fetched, both validated, component 0 invoked', async () => {
    const p = device();
    const r = await processEnvelope(load('example5.hex'), p, { sections: ['install', 'validate', 'invoke'] });
    expect(r.error).toBeUndefined();
    expect(p.content(C(0))).toEqual(IMG_A);
    expect(p.content(C(1))).toEqual(IMG_B);
    expect(p.invoked).toEqual(['00']);
    const imageMatches = r.report.records.filter((x) => x.properties.has(PARAM.IMAGE_DIGEST) && x.section === 7);
    expect(imageMatches.map((x) => x.componentIndex)).toEqual([0, 1]);
    roundTrip(r.report);
  });

  it('every draft example runs its Update procedure and reports a decodable result', async () => {
    for (let n = 0; n <= 5; n++) {
      const env = load(`example${n}.hex`);
      const r = await processEnvelope(env, device({ slots: new Map([[componentIdKey(C(0)), 1]]) }), {
        sections: ['dependency-resolution', 'payload-fetch', 'candidate-verification', 'install', 'validate'],
      });
      const back = decodeReport(encodeReport(r.report));
      expect(back.reference.digest).toEqual(env.digest);
      expect(r.trace.some((t) => t.code === CMD.VENDOR_IDENTIFIER)).toBe(true);
    }
  });
});

describe('trust-domains examples (dependencies)', () => {
  const dependentBytes = readHexFixture('suit/trust-domains/example0_dependent.hex');
  const text = (s: string) => new TextEncoder().encode(s);
  const DEP: ComponentId = [text('dependent.suit')];
  const ROOT0: ComponentId = [text('10')];

  async function runDependent(name: string, remote: boolean) {
    const p = new MemoryPlatform({ dependencies: true, remote: remote ? new Map([['http://example.com/dependent.suit', dependentBytes]]) : new Map() });
    const r = await processEnvelope(load(`trust-domains/${name}`), p, { sections: ['dependency-resolution', 'payload-fetch', 'install', 'validate', 'invoke'] });
    return { p, r };
  }

  it('example 1: fetch the dependency, check its manifest digest, process its install, then our own', async () => {
    const { p, r } = await runDependent('example1_process.hex', true);
    expect(r.error).toBeUndefined();
    expect(p.content(DEP)).toEqual(dependentBytes);
    expect(new TextDecoder().decode(p.content([...DEP, text('00')]))).toBe('hello world');
    expect(new TextDecoder().decode(p.content(ROOT0))).toBe(' in multiple trust domains');
    expect(p.calls).toContain(`invoke ${componentIdKey(ROOT0)} args ${Buffer.from('cat 00 10').toString('hex')}`);
    // the dependency's write (policy 15) is recorded with manifest-id [1]
    expect(r.report.records.filter((x) => x.manifestId.length === 1 && x.manifestId[0] === 1)).toHaveLength(1);
    expect(r.report.records.some((x) => x.section === 15 && x.componentIndex === 1 && x.properties.has(PARAM.IMAGE_DIGEST))).toBe(true);
    roundTrip(r.report);
  });

  it('example 2: the dependency is integrated in the envelope (#dependent.suit)', async () => {
    const { p, r } = await runDependent('example2_integrated.hex', false);
    expect(r.error).toBeUndefined();
    expect(p.calls.some((c) => c.startsWith('fetch'))).toBe(false);
    expect(new TextDecoder().decode(p.content([...DEP, text('00')]))).toBe('hello world');
  });

  it('example 1 without dependency support → COMMAND_UNSUPPORTED at dependency-integrity', async () => {
    const p = new MemoryPlatform({ remote: new Map([['http://example.com/dependent.suit', dependentBytes]]) });
    const r = await processEnvelope(load('trust-domains/example1_process.hex'), p, { sections: ['dependency-resolution', 'install'] });
    expect(r.error?.code).toBe('COMMAND_UNSUPPORTED');
    const res = r.report.result;
    if (res === true) throw new Error('expected failure');
    expect(res.record).toMatchObject({ section: 20, componentIndex: 1 });
  });

  it('a tampered dependency fails image-match in dependency-resolution', async () => {
    const bad = dependentBytes.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1; // inside the manifest's install sequence
    const p = new MemoryPlatform({ dependencies: true, remote: new Map([['http://example.com/dependent.suit', bad]]) });
    const r = await processEnvelope(load('trust-domains/example1_process.hex'), p, { sections: ['dependency-resolution'] });
    expect(r.error?.code).toBe('IMAGE_MISMATCH');
  });
});
