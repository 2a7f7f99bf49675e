/**
 * `create`: release description validation (every error names its field), UUIDs per the draft, and
 * the manifest layout run through manifest's processor — full image, delta from a listed precursor,
 * a wrong patch falling back to the full image, and "any precursor, target digest binds".
 */
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import {
  MemoryPlatform,
  decodeCbor,
  decodeEnvelope,
  parseUuid,
  processEnvelope,
  signEnvelope,
  generateKey,
  verifyEnvelope,
  type ComponentId,
  type CommandContext,
} from '../manifest/index.js';
import { applyDelta, encodeDelta } from '../delta/index.js';
import { createRelease, FETCH_ARGS } from './create.js';
import { parseReleaseDescription, parseReleaseText, parseSuitVersion } from './release-description.js';
import { cli, tempDir } from './test-helpers.js';

const base = { vendor: { domain: 'arm.com' }, class: { info: 'suit' }, sequenceNumber: 1, components: [{ id: ['0x00'], digest: { hex: '00'.repeat(32) }, size: 1 }] };

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toMatchObject({ code: 'RELEASE_DESCRIPTION_INVALID' });
    return [...new Set(((e as { details: { problems: { field: string }[] } }).details.problems ?? []).map((p) => p.field))];
  }
  throw new Error('no error');
}

describe('release description', () => {
  it('names the field of every error', () => {
    expect(fieldsOf(() => parseReleaseDescription({ ...base, vendor: { domain: 'not a domain' } }))).toEqual(['vendor.domain']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, sequenceNumber: -1 }))).toEqual(['sequenceNumber']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, components: [] }))).toEqual(['components']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, components: [{ id: ['0x0'], image: 'a' }] }))).toEqual(['components[0].id[0]']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, components: [{ id: ['0x00'], image: 'a', requiresVersion: ['~1'] }] }))).toEqual(['components[0].requiresVersion[0]']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, colour: 'red' }))).toEqual(['(top level)']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, components: [{ id: ['0x00'], image: 'a', delta: { precursors: [{ uri: 'u' }] } }] }))).toEqual(['components[0].delta.precursors[0]']);
    expect(fieldsOf(() => parseReleaseDescription({ ...base, version: '1.x' }))).toEqual(['version']);
    const msg = (() => {
      try {
        parseReleaseText('vendor: {domain: a.example}\nclass: {info: x}\nsequenceNumber: 1\ncomponents:\n  - id: ["0x00"]\n    size: 3\n', 'rel.yaml');
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(msg).toMatch(/^rel\.yaml: components\[0\]: /);
  });

  it('maps versions per update-management (1.2-rc.3 = [1,2,-1,3])', () => {
    expect(parseSuitVersion('1.2-rc.3')).toEqual([1, 2, -1, 3]);
    expect(parseSuitVersion('2.1.0')).toEqual([2, 1, 0]);
  });

  it('derives the draft examples vendor and class ids (UUIDv5 of arm.com and "suit"), and accepts raw UUIDs', async () => {
    const r = await createRelease(base, { baseDir: '/' });
    expect(r.vendorId).toBe('fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe');
    expect(r.classId).toBe('1492af14-2569-5e48-bf42-9b2d51f2ab45');
    const raw = await createRelease({ ...base, vendor: { uuid: 'fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe' }, class: { uuid: '1492af14-2569-5e48-bf42-9b2d51f2ab45' } }, { baseDir: '/' });
    expect([raw.vendorId, raw.classId]).toEqual([r.vendorId, r.classId]);
    // Same shared sequence byte for byte (the domain form only adds the severable text).
    const shared = (m: Uint8Array) => decodeEnvelope(m).manifest.common.sharedSequence!.bytes;
    expect(shared(raw.envelope)).toEqual(shared(r.envelope));
  });

  it('a missing image is a field error through the CLI (exit 65)', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'r.yaml'), 'vendor: {domain: a.example}\nclass: {info: x}\nsequenceNumber: 1\ncomponents:\n  - id: ["0x00"]\n    image: nope.bin\n');
    const r = await cli(d, 'create', '--release', 'r.yaml', '-o', 'o.suit', '--json');
    expect(r.code).toBe(65);
    expect(r.json()).toMatchObject({ ok: false, code: 'RELEASE_DESCRIPTION_INVALID' });
    expect(r.json<{ message: string }>().message).toContain('components[0].image');
  });
});

/** A device platform whose fetch understands this project's delta fetch-arguments (docs/release-description.md). */
class DeltaDevice extends MemoryPlatform {
  override async fetch(uri: string, args: Uint8Array | undefined, target: ComponentId, ctx?: CommandContext): Promise<void> {
    if (!args) return super.fetch(uri, args, target, ctx);
    const a = decodeCbor(args) as Map<number, unknown>;
    if (!a.has(FETCH_ARGS.ENCODING)) return super.fetch(uri, args, target, ctx); // {}: the full image
    expect(a.get(FETCH_ARGS.ENCODING)).toBe('sdlt-1');
    const body = this.opts.remote?.get(uri);
    if (!body) return super.fetch(uri, args, target, ctx);
    this.calls.push(`fetch-delta ${uri}`);
    const current = this.content(target) ?? new Uint8Array();
    // The patch header names its precursor; a wrong one fails before writing (as a real transport must).
    const out = applyDelta(current, body).output;
    await this.write(target, out);
  }
}

describe('the manifest layout through the processor', () => {
  const C0 = [Uint8Array.of(0)];
  async function setup(delta: unknown): Promise<{ env: ReturnType<typeof decodeEnvelope>; v1: Uint8Array; v2: Uint8Array; v0: Uint8Array; dir: string }> {
    const dir = await tempDir();
    const v0 = randomBytes(20_000);
    const v1 = Buffer.concat([v0.subarray(0, 15_000), randomBytes(100), v0.subarray(15_000)]);
    const v2 = Buffer.concat([v1.subarray(0, 5_000), randomBytes(50), v1.subarray(5_000)]);
    await writeFile(path.join(dir, 'v0.bin'), v0);
    await writeFile(path.join(dir, 'v1.bin'), v1);
    await writeFile(path.join(dir, 'v2.bin'), v2);
    const desc = {
      vendor: { domain: 'acme.example' },
      class: { info: 'delta-test' },
      sequenceNumber: 5,
      sever: ['text', 'install'],
      text: { manifestDescription: 'v2' },
      components: [{ id: ['0x00'], image: 'v2.bin', uri: 'https://cdn/v2.bin', requiresVersion: ['>=1'], ...(delta ? { delta } : {}) }],
    };
    const r = await createRelease(desc, { baseDir: dir });
    const env = decodeEnvelope(r.envelope);
    return { env, v0: new Uint8Array(v0), v1: new Uint8Array(v1), v2: new Uint8Array(v2), dir };
  }
  const device = (installed: Uint8Array, remote: Map<string, Uint8Array>): DeltaDevice =>
    Object.assign(
      new DeltaDevice({
        vendorIds: [parseUuid('0637e301-e05d-505b-8267-486f5677de9b')],
        classIds: [], // filled below
        remote,
        versions: new Map([['00', [1, 5]]]),
      }),
      {},
    );

  async function run(env: ReturnType<typeof decodeEnvelope>, p: DeltaDevice) {
    const { uuid5 } = await import('../manifest/index.js');
    (p.opts as { classIds: unknown[] }).classIds = [uuid5(parseUuid('0637e301-e05d-505b-8267-486f5677de9b'), 'delta-test')];
    const k = generateKey('ed25519');
    const signed = signEnvelope(env, [k]);
    return processEnvelope(signed, p, { sections: ['install', 'validate'], installedSequenceNumber: 4, verify: (e) => verifyEnvelope(e, [k.publicKey()]) });
  }

  it('delta from a listed precursor: the patch branch runs, the target digest binds', async () => {
    const { env, v1, v2 } = await setup({ precursors: [{ image: 'v0.bin', uri: 'https://cdn/v0-v2.patch' }, { image: 'v1.bin', uri: 'https://cdn/v1-v2.patch' }] });
    const p = device(v1, new Map([['https://cdn/v1-v2.patch', encodeDelta(v1, v2)], ['https://cdn/v2.bin', v2]]));
    p.install(C0, v1);
    const r = await run(env, p);
    expect(r.error?.message, JSON.stringify(r.error)).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(p.calls).toContain('fetch-delta https://cdn/v1-v2.patch');
    expect(p.calls.some((c) => c.startsWith('fetch https://cdn/v2.bin'))).toBe(false);
    expect(Buffer.from(p.content(C0)!).equals(Buffer.from(v2))).toBe(true);
  });

  it('an unknown installed image takes the full-image branch', async () => {
    const { env, v2 } = await setup({ precursors: [{ image: 'v1.bin', uri: 'https://cdn/v1-v2.patch' }] });
    const p = device(new Uint8Array(10), new Map([['https://cdn/v2.bin', v2]]));
    p.install(C0, randomBytes(3000));
    const r = await run(env, p);
    expect(r.ok, JSON.stringify(r.error)).toBe(true);
    expect(p.calls).toContain('fetch https://cdn/v2.bin -> 00');
    expect(Buffer.from(p.content(C0)!).equals(Buffer.from(v2))).toBe(true);
  });

  it('a patch that rebuilds something else fails image-match and falls back to the full image', async () => {
    const { env, v1, v2 } = await setup({ precursors: [{ image: 'v1.bin', uri: 'https://cdn/v1-v2.patch' }] });
    const evil = encodeDelta(v1, randomBytes(v2.length)); // right precursor, wrong target
    const p = device(v1, new Map([['https://cdn/v1-v2.patch', evil], ['https://cdn/v2.bin', v2]]));
    p.install(C0, v1);
    const r = await run(env, p);
    expect(r.ok, JSON.stringify(r.error)).toBe(true);
    expect(p.calls).toContain('fetch-delta https://cdn/v1-v2.patch');
    expect(p.calls).toContain('fetch https://cdn/v2.bin -> 00');
    expect(Buffer.from(p.content(C0)!).equals(Buffer.from(v2))).toBe(true);
  });

  it('"any precursor": one fetch with fetch-arguments; a wrong result is refused by the final image-match', async () => {
    const { env, v1, v2 } = await setup({ anyPrecursor: true, uri: 'https://cdn/v2.delta' });
    const p = device(v1, new Map([['https://cdn/v2.delta', encodeDelta(v1, v2)]]));
    p.install(C0, v1);
    expect((await run(env, p)).ok).toBe(true);
    expect(Buffer.from(p.content(C0)!).equals(Buffer.from(v2))).toBe(true);
    const bad = device(v1, new Map([['https://cdn/v2.delta', encodeDelta(v1, randomBytes(100))]]));
    bad.install(C0, v1);
    const r = await run(env, bad);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('IMAGE_MISMATCH');
  });

  it('the version requirement is checked before anything is fetched', async () => {
    const { env, v2 } = await setup(undefined);
    const p = device(v2, new Map([['https://cdn/v2.bin', v2]]));
    (p.opts as { versions: Map<string, number[]> }).versions = new Map([['00', [0, 9]]]);
    p.currentVersion = async () => [0, 9];
    p.install(C0, randomBytes(10));
    const r = await run(env, p);
    expect(r.ok).toBe(false);
    expect(p.calls.some((c) => c.startsWith('fetch'))).toBe(false);
  });

  it('two components: each sequence selects its component; both images installed, one invoked', async () => {
    const dir = await tempDir();
    const a = randomBytes(3000);
    const b = randomBytes(2000);
    await writeFile(path.join(dir, 'a.bin'), a);
    await writeFile(path.join(dir, 'b.bin'), b);
    const r = await createRelease(
      {
        vendor: { domain: 'acme.example' },
        class: { info: 'two' },
        sequenceNumber: 2,
        components: [
          { id: ['app'], image: 'a.bin', uri: 'https://cdn/a', invoke: true },
          { id: ['0x01', 'radio'], image: 'b.bin', uri: 'https://cdn/b', class: { info: 'radio-fw' } },
        ],
      },
      { baseDir: dir },
    );
    const env = decodeEnvelope(r.envelope);
    const { uuid5 } = await import('../manifest/index.js');
    const vendor = parseUuid('0637e301-e05d-505b-8267-486f5677de9b');
    const p = new MemoryPlatform({
      vendorIds: [vendor],
      identityByComponent: new Map([
        ['617070', { classIds: [uuid5(vendor, 'two')] }],
        ['01/726164696f', { classIds: [uuid5(vendor, 'radio-fw')] }],
      ]),
      remote: new Map([['https://cdn/a', new Uint8Array(a)], ['https://cdn/b', new Uint8Array(b)]]),
    });
    const k = generateKey('p256');
    const res = await processEnvelope(signEnvelope(env, [k]), p, { sections: ['install', 'validate', 'invoke'], installedSequenceNumber: 1, verify: (e) => verifyEnvelope(e, [k.publicKey()]) });
    expect(res.ok, JSON.stringify(res.error) + JSON.stringify([...p.storage.keys()])).toBe(true);
    expect(Buffer.from(p.content([new TextEncoder().encode('app')])!).equals(a)).toBe(true);
    expect(Buffer.from(p.content([Uint8Array.of(1), new TextEncoder().encode('radio')])!).equals(b)).toBe(true);
    expect(p.invoked).toHaveLength(1);
  });

  it('a 64-bit sequence number given as a string survives', async () => {
    const r = await createRelease({ ...base, sequenceNumber: '18446744073709551615' }, { baseDir: '/' });
    expect(decodeEnvelope(r.envelope).manifest.sequenceNumber).toBe(18446744073709551615n);
    expect(() => parseReleaseDescription({ ...base, sequenceNumber: '18446744073709551616' })).toThrow(expect.objectContaining({ code: 'RELEASE_DESCRIPTION_INVALID' }));
  });
});
