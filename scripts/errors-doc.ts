/** Writes docs/errors.md from the error table (`npx tsx scripts/errors-doc.ts`); a test keeps them in sync. */
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../manifest/errors.js';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, r]) => `| \`${code}\` | ${r.http} | ${r.exit} | 0x${r.report.toString(16).padStart(2, '0')} | ${r.what} |`,
  );
  return [
    '# Error codes',
    '',
    'One table for the whole system (`manifest/errors.ts`). Every failure is an `UpdateError` with one of',
    'these codes. The server answers `{ "error": { "code", "message" } }` with the HTTP status; the CLIs',
    'exit with the exit status (BSD sysexits); devices put the report byte in their reports. Codes are',
    'stable: scripts and tests match on them, never on messages.',
    '',
    '| code | HTTP | exit | report | meaning |',
    '|---|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
}
