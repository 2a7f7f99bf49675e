/** `bundle`, `bundle-check` and `delta` end to end; streaming hashing of a large image. */
import { describe, expect, it } from 'vitest';
import { open, readFile, writeFile } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import * as path from 'node:path';
import { applyDelta } from '../delta/index.js';
import { cli, tempDir } from './test-helpers.js';
import { openBundlePayload, readBundleIndex } from './bundle.js';
import { hashFile } from './hash-file.js';

describe('suit-sign bundle / delta', () => {
  it('bundles the envelope byte-identically with its payloads and a delta patch; bundle-check streams them', async () => {
    const d = await tempDir();
    const v1 = randomBytes(50_000);
    const v2 = Buffer.concat([v1.subarray(0, 30_000), randomBytes(200), v1.subarray(30_000)]);
    const boot = randomBytes(5_000);
    await writeFile(path.join(d, 'app-v1.bin'), v1);
    await writeFile(path.join(d, 'app-v2.bin'), v2);
    await writeFile(path.join(d, 'boot.bin'), boot);

    const dl = await cli(d, 'delta', '--from', 'app-v1.bin', '--to', 'app-v2.bin', '-o', 'v1-v2.patch', '--json');
    expect(dl.code, dl.out).toBe(0);
    const dj = dl.json<{ patchSize: number; to: { sha256: string } }>();
    expect(dj.patchSize).toBeLessThan(v2.length / 4);
    expect(Buffer.from(applyDelta(new Uint8Array(v1), new Uint8Array(await readFile(path.join(d, 'v1-v2.patch')))).output).equals(v2)).toBe(true);
    expect(dj.to.sha256).toBe(createHash('sha256').update(v2).digest('hex'));

    await writeFile(
      path.join(d, 'rel.yaml'),
      [
        'vendor: { domain: acme.example }',
        'class: { info: bundle-test }',
        'sequenceNumber: 3',
        'components:',
        '  - id: ["0x00"]',
        '    image: app-v2.bin',
        '    uri: https://cdn/app-v2.bin',
        '    delta: { precursors: [ { image: app-v1.bin, uri: "https://cdn/v1-v2.patch" } ] }',
        '  - id: ["boot"]',
        '    image: boot.bin',
        '    uri: https://cdn/boot.bin',
        '',
      ].join('\n'),
    );
    expect((await cli(d, 'create', '--release', 'rel.yaml', '-o', 'u.suit')).code).toBe(0);
    expect((await cli(d, 'keygen', '--alg', 'ed25519', '--out', 'k')).code).toBe(0);
    expect((await cli(d, 'sign', 'u.suit', '--key', 'k.pem', '-o', 's.suit')).code).toBe(0);

    const b = await cli(d, 'bundle', 's.suit', '--payload', 'app-v2.bin', '--payload', 'boot.bin', '--payload', 'https://cdn/v1-v2.patch=v1-v2.patch', '-o', 'r.bundle', '--json');
    expect(b.code, b.out).toBe(0);
    expect(b.json<{ payloads: { uri: string }[] }>().payloads.map((p) => p.uri)).toEqual(['https://cdn/app-v2.bin', 'https://cdn/boot.bin', 'https://cdn/v1-v2.patch']);

    const idx = await readBundleIndex(path.join(d, 'r.bundle'));
    expect(Buffer.from(idx.envelope).equals(await readFile(path.join(d, 's.suit')))).toBe(true);
    const chunks: Buffer[] = [];
    for await (const c of openBundlePayload(path.join(d, 'r.bundle'), idx.entries[1]!)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(boot)).toBe(true);
    // The envelope inside still verifies.
    await writeFile(path.join(d, 'from-bundle.suit'), idx.envelope);
    expect((await cli(d, 'verify', 'from-bundle.suit', '--key', 'k.pub.pem')).code).toBe(0);
    const chk = await cli(d, 'bundle-check', 'r.bundle', '--key', 'k.pub.pem', '--json');
    expect(chk.json(), chk.out).toMatchObject({ ok: true, signers: [expect.any(String)] });
    expect(chk.json<{ payloads: { delta: boolean }[] }>().payloads.map((p) => p.delta)).toEqual([false, false, true]);
    expect((await cli(d, 'bundle-check', 'r.bundle', '--key', 'app-v1.bin', '--json')).json()).toMatchObject({ ok: false });

    // A payload the manifest does not fetch is refused; a bad URI too.
    await writeFile(path.join(d, 'other.bin'), 'other');
    const bad = await cli(d, 'bundle', 's.suit', '--payload', 'other.bin', '-o', 'x.bundle', '--json');
    expect(bad.json()).toMatchObject({ ok: false, code: 'PAYLOAD_DIGEST_MISMATCH' });
    const badUri = await cli(d, 'bundle', 's.suit', '--payload', 'https://elsewhere/p=v1-v2.patch', '-o', 'x.bundle', '--json');
    expect(badUri.json()).toMatchObject({ ok: false, code: 'USAGE' });

    // A corrupted payload byte is found by bundle-check.
    const fh = await open(path.join(d, 'r.bundle'), 'r+');
    const st = await fh.stat();
    await fh.write(Buffer.from([0xff ^ (await readFile(path.join(d, 'r.bundle')))[st.size - 1]!]), 0, 1, st.size - 1);
    await fh.close();
    const chk2 = await cli(d, 'bundle-check', 'r.bundle', '--json');
    expect(chk2.json()).toMatchObject({ ok: false, code: 'PAYLOAD_DIGEST_MISMATCH' });
  });

  it('hashes a 512 MiB image streaming (memory stays far below its size)', async () => {
    const d = await tempDir();
    const big = path.join(d, 'big.bin');
    const fh = await open(big, 'w');
    await fh.truncate(512 * 1024 * 1024); // sparse: no disk used
    await fh.close();
    const before = process.memoryUsage().rss;
    let peak = before;
    const r = await hashFile(big, -16, () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    });
    expect(r.size).toBe(512 * 1024 * 1024);
    expect(Buffer.from(r.digest.bytes).toString('hex')).toBe('9acca8e8c22201155389f65abbf6bc9723edc7384ead80503839f49dcc56d767');
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
  });
});
