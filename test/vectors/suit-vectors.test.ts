/**
 * Conformance over the shared SUIT vectors (../shared/vectors/suit/, see its README): every envelope
 * decodes; the manifest digest and every severed member digest check over the received bytes; the
 * manifest re-encodes byte-identical from the typed model; the envelope re-encodes byte-identical.
 * (Signature verification of the same vectors lives with manifest/cose.)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  bytesEqual,
  checkManifestDigest,
  checkSeveredMembers,
  decodeCbor,
  decodeEnvelope,
  encodeEnvelope,
  encodeManifest,
  fromHex,
  getSevered,
  Tagged,
  toHex,
} from '../../manifest/index.js';

const root = fileURLToPath(new URL('../../../shared/vectors/suit/', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(dir + f).isDirectory() ? walk(`${dir}${f}/`) : [dir + f]));
}

const all = walk(root).map((f) => f.slice(root.length));
const envelopes = all.filter((f) => /\.hex(\.signed)?$/.test(f) && !/encrypted-payload|suit-encryption-info/.test(f));
const encryptionInfos = all.filter((f) => /suit-encryption-info-.*\.hex$/.test(f));
const load = (f: string): Uint8Array => fromHex(readFileSync(root + f, 'utf8'));

describe('shared SUIT vectors', () => {
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

function getSeveredSafe(env: ReturnType<typeof decodeEnvelope>, k: 14 | 15 | 16 | 18 | 20 | 23): unknown {
  try {
    return getSevered(env, k);
  } catch (e) {
    // Severed and not carried (e.g. example2.severed-signed): the only acceptable failure.
    expect((e as { code: string }).code).toBe('SEVERED_MEMBER_MISSING');
    return 'missing';
  }
}
