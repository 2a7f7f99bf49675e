/**
 * The fixtures are what their READMEs say: every listed file is stored once with the listed size and
 * SHA-256, every stored file is listed, and no content is stored twice.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusPairs, FIXTURE_ROOTS, fixtureIndex, fixturePath, listFixtures, readCorpusPair, readHexFixture, REPO_ROOT } from './fixtures.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('fixtures', () => {
  const index = [...fixtureIndex().values()];

  it('lists the vector sets and the corpus', () => {
    expect(listFixtures('suit', { recursive: true }).length).toBe(71);
    expect(listFixtures('interop/nordic').length).toBe(17);
    expect(listFixtures('merkle').filter((n) => n.endsWith('.json')).length).toBe(196);
    expect(corpusPairs()).toHaveLength(11);
  });

  it.each(index.map((e) => [e.name, e] as const))('%s matches its README (size, sha256)', (_, e) => {
    const b = readFileSync(e.path);
    expect(b.length).toBe(e.bytes);
    expect(sha256(b)).toBe(e.sha256);
  });

  it('every stored file is listed in its folder README, and no content is stored twice', () => {
    const stored = new Map<string, string>();
    for (const root of Object.values(FIXTURE_ROOTS)) {
      for (const abs of filesUnder(join(REPO_ROOT, root))) {
        const rel = relative(REPO_ROOT, abs).split(sep).join('/');
        if (rel.endsWith('/README.md')) continue;
        const listed = index.find((e) => e.path === abs && !e.storedAs);
        expect(listed, `${rel} is not listed in its README`).toBeDefined();
        const h = sha256(readFileSync(abs));
        expect(stored.get(h), `${rel} has the same bytes as ${stored.get(h)}`).toBeUndefined();
        stored.set(h, rel);
      }
    }
    for (const e of index.filter((x) => x.storedAs)) expect(statSync(e.path).isFile(), `${e.name} → ${e.storedAs}`).toBe(true);
  });

  it('resolves a file stored under another name, and refuses an unknown name', () => {
    const [, to] = readCorpusPair('upy-pybv11-v1.10-1f5d945af');
    const [from] = readCorpusPair('upy-pybv11-1f5d945af-dirty');
    expect(sha256(to)).toBe(sha256(from));
    expect(readHexFixture('suit/example1.hex')[0]).toBe(0xd8); // tag 107
    expect(() => fixturePath('suit/no-such-file.hex')).toThrow(/unknown fixture/);
  });
});
