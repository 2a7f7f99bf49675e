/**
 * Conformance over the SUIT vectors of test/fixtures/suit/ (see its README): every envelope
 * decodes; the manifest digest and every severed member digest check over the received bytes; the
 * manifest re-encodes byte-identical from the typed model; the envelope re-encodes byte-identical.
 * (Signature verification of the same vectors lives with manifest/cose.)
 */
import { describe, expect, it } from 'vitest';
import {
  bytesEqual,
  checkManifestDigest,
  checkSeveredMembers,
  decodeCbor,
  decodeEnvelope,
  encodeEnvelope,
  encodeManifest,
  encodeCbor,
  getSevered,
  summarizeEnvelope,
  Tagged,
  toHex,
  type CommandSequence,
  type SuitEnvelope,
} from '../../manifest/index.js';
import { listFixtures, readHexFixture } from '../support/fixtures.js';

const all = listFixtures('suit', { recursive: true }).map((n) => n.slice('suit/'.length));
const envelopes = all.filter((f) => /\.hex(\.signed)?$/.test(f) && !/encrypted-payload|suit-encryption-info/.test(f));
const encryptionInfos = all.filter((f) => /suit-encryption-info-.*\.hex$/.test(f));
const load = (f: string): Uint8Array => readHexFixture(`suit/${f}`);

describe('SUIT vectors', () => {
  it('finds the vector set', () => {
    expect(envelopes.length).toBe(43);
    expect(encryptionInfos.length).toBe(4);
  });

  describe.each(envelopes)('%s', (f) => {
    const bytes = load(f);
    it('decodes, digests check, re-encodes byte-identical', () => {
      const env = decodeEnvelope(bytes);
      expect(env.bytes).toBe(bytes);
      checkManifestDigest(env);
      checkSeveredMembers(env);
      // The manifest from the model alone (sequences re-encoded from their commands).
      expect(toHex(encodeManifest(env.manifest))).toBe(toHex(env.manifest.bytes));
      // The envelope from its parts.
      expect(toHex(encodeEnvelope(env))).toBe(toHex(bytes));
      // Every severable member is reachable (present or verified severed copy).
      for (const k of [14, 15, 16, 18, 20, 23] as const) {
        const present = env.severed.has(k);
        const m = getSeveredSafe(env, k);
        if (present) expect(m).toBeDefined();
      }
      // Every command's offset points at its command code inside the sequence bytes, at every depth.
      for (const s of allSequences(env)) checkOffsets(s);
      // The JSON view never throws and is plain JSON.
      const summary = summarizeEnvelope(env);
      expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
      expect(summary.signatures.length).toBe(env.authBlocks.length);
      // Integrated dependencies (tag 107) are envelopes themselves; other integrated payloads are opaque.
      for (const [k, v] of env.integrated) {
        if (v[0] === 0xd8 && v[1] === 0x6b) {
          const dep = decodeEnvelope(v);
          checkManifestDigest(dep);
          expect(bytesEqual(encodeManifest(dep.manifest), dep.manifest.bytes)).toBe(true);
        }
      }
    });
  });

  it.each(encryptionInfos)('%s is a COSE_Encrypt (tag 96)', (f) => {
    const v = decodeCbor(load(f));
    expect(v).toBeInstanceOf(Tagged);
    expect((v as Tagged).tag).toBe(96);
  });
});

function allSequences(env: SuitEnvelope): CommandSequence[] {
  const m = env.manifest;
  const out: (CommandSequence | undefined)[] = [m.common.sharedSequence, m.validate, m.load, m.invoke, m.uninstall];
  for (const k of [15, 16, 18, 20] as const) {
    const s = getSeveredSafe(env, k);
    if (s && s !== 'missing') out.push(s as CommandSequence);
  }
  return out.filter((s): s is CommandSequence => s !== undefined);
}

function checkOffsets(s: CommandSequence): void {
  for (const c of s.commands) {
    const code = encodeCbor(c.code);
    expect(toHex(s.bytes.subarray(c.offset, c.offset + code.length))).toBe(toHex(code));
    if (c.kind === 'try-each') c.sequences.forEach(checkOffsets);
    if (c.kind === 'run-sequence') checkOffsets(c.sequence);
  }
}

function getSeveredSafe(env: ReturnType<typeof decodeEnvelope>, k: 14 | 15 | 16 | 18 | 20 | 23): unknown {
  try {
    return getSevered(env, k);
  } catch (e) {
    // Severed and not carried (e.g. example2.severed-signed): the only acceptable failure.
    expect((e as { code: string }).code).toBe('SEVERED_MEMBER_MISSING');
    return 'missing';
  }
}

describe('vector contents (spot checks of the model)', () => {
  it('Example 3: try-each over two slots', () => {
    const env = decodeEnvelope(load('example3.hex'));
    const install = getSevered(env, 20)!;
    const te = env.manifest.common.sharedSequence!.commands.find((c) => c.kind === 'try-each');
    expect(te).toBeDefined();
    if (te?.kind !== 'try-each') return;
    expect(te.sequences).toHaveLength(2);
    expect(te.allowAllFail).toBe(false);
    expect(install.commands.some((c) => c.kind === 'try-each')).toBe(true);
  });
  it('trust-domains: dependency index beyond the components list (lenient reading)', () => {
    const env = decodeEnvelope(load('trust-domains/example1_process.hex'));
    const deps = env.manifest.common.dependencies!;
    expect(deps.size).toBeGreaterThan(0);
    expect(env.manifest.manifestComponentId).toBeDefined();
    expect(env.manifest.dependencyResolution && 'present' in env.manifest.dependencyResolution).toBe(true);
  });
  it('libcsuit expU2: set-version, severed CoSWID carried in the envelope', () => {
    const env = decodeEnvelope(load('libcsuit/suit_manifest_expU2.hex'));
    expect(env.manifest.setVersion).toBeDefined();
    expect(env.manifest.coswid && 'severed' in env.manifest.coswid).toBe(true);
    expect(getSevered(env, 14)).toBeInstanceOf(Uint8Array);
  });
  it('libcsuit expD: uninstall sequence, untagged envelope', () => {
    const env = decodeEnvelope(load('libcsuit/suit_manifest_expD.hex'));
    expect(env.tagged).toBe(false);
    expect(env.manifest.uninstall?.commands.length).toBeGreaterThan(0);
  });
  it('firmware-encryption: encryption-info kept raw as the COSE_Encrypt bytes', () => {
    const env = decodeEnvelope(load('firmware-encryption/suit-manifest-aes-kw.hex.signed'));
    const install = getSevered(env, 20)!;
    const info = install.commands.flatMap((c) => (c.kind === 'set-parameters' ? [...c.params] : [])).find(([k]) => k === 19);
    expect(info).toBeDefined();
    const cose = decodeCbor(info![1] as Uint8Array);
    expect((cose as Tagged).tag).toBe(96);
  });
});
