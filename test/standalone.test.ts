/**
 * The repository stands alone: no source, test, script or document refers to the team's shared data
 * folder beside the repository. Data from there is copied in by `npm run fixtures:sync` (the only
 * place, with its documentation, allowed to name it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from './support/fixtures.js';

const ALLOWED = new Set(['scripts/fixtures-sync.ts', 'test/fixtures/README.md']);
const SKIP_DIRS = new Set(['node_modules', '.git', 'corpus']);
const TEXT = /\.(ts|mts|mjs|js|json|md|yaml|yml|sh|txt|diag|hex|html|css)$|^[^.]+$/;
// Built from parts so that this file does not match itself.
const SIBLING = new RegExp(['\\.\\./', '(\\.\\./)*', 'shared\\b', '|', '/work', '/shared\\b'].join(''));

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) yield* files(join(dir, e.name));
    } else if (e.isFile() && TEXT.test(e.name)) yield join(dir, e.name);
  }
}

it('nothing refers to the shared data folder outside the fixture sync script and its documentation', () => {
  const hits: string[] = [];
  for (const abs of files(REPO_ROOT)) {
    const rel = relative(REPO_ROOT, abs).split(sep).join('/');
    if (ALLOWED.has(rel)) continue;
    readFileSync(abs, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (SIBLING.test(line)) hits.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  expect(hits).toEqual([]);
});
