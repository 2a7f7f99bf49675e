/**
 * HSS-LMS keys end to end (RFC 8554): the state is persisted before each signature, every
 * signature uses a fresh one-time index, the key signs until exhausted and then refuses, and a
 * restored or copied state file is refused.
 */
import { describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { decodeEnvelope, decodeCoseMessage } from '../manifest/index.js';
import { cli, tempDir } from './test-helpers.js';
import { signEnvelopeFile } from './sign.js';
import { generateKeyFiles } from './key-files.js';
import { createRelease } from './create.js';

/** The LMS leaf index q of a one-level HSS signature: u32 Nspk = 0, then the LMS signature starting with u32 q. */
function lmsIndexOf(envFile: Buffer): number {
  const env = decodeEnvelope(new Uint8Array(envFile));
  const m = decodeCoseMessage(env.authBlocks.at(-1)!);
  const sig = (m as { signature: Uint8Array }).signature;
  return Buffer.from(sig).readUInt32BE(4);
}

describe('HSS-LMS signing keys', () => {
  it('H5W8: 32 signatures, each with a new index, then SIGNER_STATE_EXHAUSTED', async () => {
    const dir = await tempDir();
    const k = await cli(dir, 'keygen', '--alg', 'hss-lms', '--lms-params', 'H5W8', '--out', 'pq', '--json');
    expect(k.code, k.out).toBe(0);
    expect(k.json()).toMatchObject({ signaturesRemaining: 32, alg: -46 });
    await writeFile(path.join(dir, 'fw.bin'), Buffer.alloc(64, 1));
    const rel = { vendor: { domain: 'acme.example' }, class: { info: 'rom' }, sequenceNumber: 1, components: [{ id: ['0x00'], image: 'fw.bin' }] };
    await writeFile(path.join(dir, 'u.suit'), (await createRelease(rel, { baseDir: dir })).envelope);

    const seen: number[] = [];
    for (let i = 0; i < 32; i++) {
      const out = path.join(dir, `s${i}.suit`);
      const r = await signEnvelopeFile(path.join(dir, 'u.suit'), [path.join(dir, 'pq.pem')], out);
      expect(r.added[0]!.signaturesRemaining).toBe(31 - i);
      // The state on disk already says the index is used (persisted before the signature was released).
      expect(JSON.parse(await readFile(path.join(dir, 'pq.state'), 'utf8')).next).toBe(i + 1);
      seen.push(lmsIndexOf(await readFile(out)));
    }
    expect(seen).toEqual([...Array(32).keys()]);
    // Every one of them verifies with the public key.
    const v = await cli(dir, 'verify', 's31.suit', '--key', 'pq.pub.pem', '--json');
    expect(v.json()).toMatchObject({ ok: true });
    expect((await cli(dir, 'verify', 's0.suit', '--key', 'pq.cose')).code).toBe(0);

    const show = await cli(dir, 'lms-state', 'show', 'pq.pem', '--json');
    expect(show.json()).toMatchObject({ remaining: 0, total: 32 });
    const ex = await cli(dir, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 's32.suit', '--json');
    expect(ex.json()).toMatchObject({ ok: false, code: 'SIGNER_STATE_EXHAUSTED' });
    expect(ex.code).toBe(77);
  });

  it('refuses a restored backup and a copied key directory (SIGNER_STATE_INVALID)', async () => {
    const dir = await tempDir();
    await generateKeyFiles(path.join(dir, 'pq'), { alg: 'hss-lms', lmsParams: { heights: [5], w: 8 } });
    await writeFile(path.join(dir, 'fw.bin'), Buffer.alloc(64, 2));
    const rel = { vendor: { domain: 'acme.example' }, class: { info: 'rom' }, sequenceNumber: 1, components: [{ id: ['0x00'], image: 'fw.bin' }] };
    await writeFile(path.join(dir, 'u.suit'), (await createRelease(rel, { baseDir: dir })).envelope);

    expect((await cli(dir, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 'a.suit')).code).toBe(0);
    // An operator copies the whole key directory to a second machine (here: another directory).
    const copy = path.join(dir, 'copy');
    await mkdir(copy);
    for (const f of ['pq.pem', 'pq.state', 'pq.state.journal', 'u.suit']) await copyFile(path.join(dir, f), path.join(copy, f));
    const c = await cli(copy, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 'c.suit', '--json');
    expect(c.json()).toMatchObject({ ok: false, code: 'SIGNER_STATE_INVALID' });
    expect(c.code).toBe(77);

    // A backup of the state is taken, more signatures are made, then the backup is restored.
    await copyFile(path.join(dir, 'pq.state'), path.join(dir, 'state.bak'));
    expect((await cli(dir, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 'b.suit')).code).toBe(0);
    await copyFile(path.join(dir, 'state.bak'), path.join(dir, 'pq.state'));
    const r = await cli(dir, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 'r.suit', '--json');
    expect(r.json()).toMatchObject({ ok: false, code: 'SIGNER_STATE_INVALID' });
    expect(r.json<{ message: string }>().message).toMatch(/stale/);

    // Without its state file the key does not sign at all.
    const d2 = await tempDir();
    await copyFile(path.join(dir, 'pq.pem'), path.join(d2, 'pq.pem'));
    await copyFile(path.join(dir, 'u.suit'), path.join(d2, 'u.suit'));
    expect((await cli(d2, 'sign', 'u.suit', '--key', 'pq.pem', '-o', 'x.suit', '--json')).json()).toMatchObject({ code: 'SIGNER_STATE_INVALID' });
  });

  it('refuses the same key twice in one sign call', async () => {
    const dir = await tempDir();
    await generateKeyFiles(path.join(dir, 'pq'), { alg: 'hss-lms', lmsParams: { heights: [5], w: 8 } });
    await writeFile(path.join(dir, 'fw.bin'), 'x');
    const rel = { vendor: { domain: 'acme.example' }, class: { info: 'rom' }, sequenceNumber: 1, components: [{ id: ['0x00'], image: 'fw.bin' }] };
    await writeFile(path.join(dir, 'u.suit'), (await createRelease(rel, { baseDir: dir })).envelope);
    const r = await cli(dir, 'sign', 'u.suit', '--key', 'pq.pem', '--key', 'pq.pem', '-o', 'x.suit', '--json');
    expect(r.json()).toMatchObject({ ok: false, code: 'USAGE' });
    // nothing was used
    expect(JSON.parse(await readFile(path.join(dir, 'pq.state'), 'utf8')).next).toBe(0);
  });
});
