/**
 * The HSS-LMS tree cache next to the state: written at keygen, used by `sign`, bound to the key id
 * of the state, rebuilt when corrupted or foreign, updated when a lower-level tree is entered; the
 * state's safety checks (exhaustion, copies) are unchanged by it.
 */
import { describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, stat, writeFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { hssVerify } from '../manifest/index.js';
import { tempDir } from './test-helpers.js';
import { generateKeyFiles } from './key-files.js';
import { loadSigningKey, prepareKey } from './keys.js';
import { treeCachePathFor } from './lms-cache.js';

const enc = new TextEncoder();

async function signOnce(keyFile: string, msg: Uint8Array): Promise<Uint8Array> {
  const k = await loadSigningKey(keyFile);
  await prepareKey(k.key);
  return k.key.sign(msg);
}

describe('HSS-LMS tree cache file', () => {
  it('keygen writes KEY.state.tree; signing uses it; a corrupted or foreign cache is rebuilt and signing still verifies', async () => {
    const dir = await tempDir();
    const r = await generateKeyFiles(path.join(dir, 'pq'), { alg: 'hss-lms', lmsParams: { heights: [5], w: 8 } });
    const cacheFile = r.files.treeCache!;
    expect(cacheFile).toBe(treeCachePathFor(path.join(dir, 'pq.state')));
    const original = await readFile(cacheFile);
    const pub = (await loadSigningKey(path.join(dir, 'pq.pem'))).key.publicKey().publicKey;

    const m0 = enc.encode('m0');
    expect(hssVerify(pub, m0, await signOnce(path.join(dir, 'pq.pem'), m0))).toBe(true);
    expect(Buffer.compare(await readFile(cacheFile), original)).toBe(0); // used, not rewritten

    // One flipped node byte: refused, recomputed, rewritten identical to the original.
    const bad = Buffer.from(original);
    bad[300]! ^= 0x10;
    await writeFile(cacheFile, bad);
    const m1 = enc.encode('m1');
    expect(hssVerify(pub, m1, await signOnce(path.join(dir, 'pq.pem'), m1))).toBe(true);
    expect(Buffer.compare(await readFile(cacheFile), original)).toBe(0);

    // Another key's cache (valid in itself): refused because its root is not this key's.
    const other = await generateKeyFiles(path.join(dir, 'other'), { alg: 'hss-lms', lmsParams: { heights: [5], w: 8 } });
    await copyFile(other.files.treeCache!, cacheFile);
    const m2 = enc.encode('m2');
    expect(hssVerify(pub, m2, await signOnce(path.join(dir, 'pq.pem'), m2))).toBe(true);
    expect(Buffer.compare(await readFile(cacheFile), original)).toBe(0);

    // No cache at all: rebuilt.
    await rm(cacheFile);
    const m3 = enc.encode('m3');
    expect(hssVerify(pub, m3, await signOnce(path.join(dir, 'pq.pem'), m3))).toBe(true);
    expect(Buffer.compare(await readFile(cacheFile), original)).toBe(0);
    expect(JSON.parse(await readFile(path.join(dir, 'pq.state'), 'utf8')).next).toBe(4);
  });

  it('two levels: entering a new lower tree updates the cache; the key signs until exhausted, then refuses', async () => {
    const dir = await tempDir();
    const r = await generateKeyFiles(path.join(dir, 'pq'), { alg: 'hss-lms', lmsParams: { heights: [5, 5], w: 4 } });
    const keyFile = path.join(dir, 'pq.pem');
    const first = await readFile(r.files.treeCache!);
    const k = await loadSigningKey(keyFile);
    const pub = k.key.publicKey().publicKey;
    // Jump close to the boundaries (the state only moves forward).
    const st = JSON.parse(await readFile(path.join(dir, 'pq.state'), 'utf8'));
    st.next = 31;
    await writeFile(path.join(dir, 'pq.state'), JSON.stringify(st));
    for (const i of [31, 32]) {
      const m = enc.encode(`m${i}`);
      const sig = await signOnce(keyFile, m);
      expect(hssVerify(pub, m, sig)).toBe(true);
      expect(Buffer.from(sig).readUInt32BE(4)).toBe(i >> 5); // top-level leaf
    }
    expect(Buffer.compare(await readFile(r.files.treeCache!), first)).not.toBe(0); // now holds lower tree 1
    const m = enc.encode('again');
    expect(hssVerify(pub, m, await signOnce(keyFile, m))).toBe(true);

    st.next = 1023;
    await writeFile(path.join(dir, 'pq.state'), JSON.stringify({ ...JSON.parse(await readFile(path.join(dir, 'pq.state'), 'utf8')), next: 1023 }));
    const last = enc.encode('last');
    expect(hssVerify(pub, last, await signOnce(keyFile, last))).toBe(true);
    await expect(signOnce(keyFile, enc.encode('more'))).rejects.toMatchObject({ code: 'SIGNER_STATE_EXHAUSTED' });
  });

  it('a copied key directory including its cache is still refused', async () => {
    const dir = await tempDir();
    await generateKeyFiles(path.join(dir, 'pq'), { alg: 'hss-lms', lmsParams: { heights: [5], w: 8 } });
    await signOnce(path.join(dir, 'pq.pem'), enc.encode('a'));
    const copy = path.join(dir, 'copy');
    await mkdir(copy);
    for (const f of ['pq.pem', 'pq.state', 'pq.state.journal', 'pq.state.tree']) await copyFile(path.join(dir, f), path.join(copy, f));
    await expect(signOnce(path.join(copy, 'pq.pem'), enc.encode('b'))).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    expect((await stat(path.join(copy, 'pq.state.tree'))).size).toBeGreaterThan(0);
  });
});
