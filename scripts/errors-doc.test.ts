import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { renderErrorsDoc } from './errors-doc.js';

it('docs/errors.md is generated from the error table (run: npx tsx scripts/errors-doc.ts)', () => {
  expect(readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')).toBe(renderErrorsDoc());
});
