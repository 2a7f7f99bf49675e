import { describe, expect, it } from 'vitest';
import { mkdtemp, copyFile, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { adoptLmsState, createLmsState, loadLmsState, reserveLmsIndex } from './lms-state.js';

async function tmp(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'suit-lms-'));
}

describe('HSS-LMS state file', () => {
  it('hands out each index once, then reports exhaustion', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 3);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push((await reserveLmsIndex(sp, 'kid1')).index);
    expect(got).toEqual([0, 1, 2]);
    await expect(reserveLmsIndex(sp, 'kid1')).rejects.toMatchObject({ code: 'SIGNER_STATE_EXHAUSTED' });
    expect((await loadLmsState(sp)).remaining).toBe(0);
  });

  it('refuses a restored (stale) copy', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 8);
    await reserveLmsIndex(sp);
    await copyFile(sp, path.join(dir, 'backup'));
    await reserveLmsIndex(sp);
    await copyFile(path.join(dir, 'backup'), sp);
    await expect(reserveLmsIndex(sp)).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
  });

  it('refuses a copied key directory (same counter, other file) until adopted', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 8);
    await reserveLmsIndex(sp);
    const dir2 = await tmp();
    const sp2 = path.join(dir2, 'k.state');
    await copyFile(sp, sp2);
    await copyFile(sp + '.journal', sp2 + '.journal');
    await expect(reserveLmsIndex(sp2)).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    await rm(dir, { recursive: true });
    await adoptLmsState(sp2);
    expect((await reserveLmsIndex(sp2)).index).toBe(1);
  });

  it('refuses a missing journal, a missing state, another key and garbage', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 8);
    await expect(reserveLmsIndex(sp, 'other')).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    const text = await readFile(sp, 'utf8');
    await rm(sp + '.journal');
    await expect(reserveLmsIndex(sp)).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    await writeFile(sp, text.replace(/"next": 0/, '"next": "x"'));
    await expect(loadLmsState(sp)).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    await expect(loadLmsState(path.join(dir, 'none'))).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
  });

  it('accepts a state ahead of its journal (crash between rename and journal append)', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 8);
    const s = JSON.parse(await readFile(sp, 'utf8'));
    s.next = 2;
    await writeFile(sp, JSON.stringify(s));
    expect((await reserveLmsIndex(sp)).index).toBe(2);
    expect((await reserveLmsIndex(sp)).index).toBe(3);
  });

  it('serialises concurrent signers: no index is handed out twice; a held lock refuses', async () => {
    const dir = await tmp();
    const sp = path.join(dir, 'k.state');
    await createLmsState(sp, 'kid1', 64);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => reserveLmsIndex(sp)));
    const got = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ index: number }>).value.index);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    expect(new Set(got).size).toBe(got.length);
    expect(got.length).toBeGreaterThanOrEqual(1);
    await writeFile(sp + '.lock', 'pid 1');
    await expect(reserveLmsIndex(sp)).rejects.toMatchObject({ code: 'SIGNER_STATE_INVALID' });
    await rm(sp + '.lock');
    const next = await reserveLmsIndex(sp);
    expect(next.index).toBe(got.length);
  });
});
