/**
 * The file table every fixture folder's README.md carries: one row per file, with its size, SHA-256,
 * where its bytes are stored (a file with the same bytes as another is stored once) and its source.
 * The table is the index the fixture locator reads and the check that `fixtures.test.ts` makes;
 * `npm run fixtures:sync` rewrites it below the marker line and keeps the notes above it.
 */

export const TABLE_MARKER = '<!-- file table: written by `npm run fixtures:sync`; notes above this line are kept -->';

export interface FixtureRow {
  /** File name inside its folder. */
  file: string;
  bytes: number;
  sha256: string;
  /** Name (relative to the folder) of the stored file with these bytes, or undefined when stored under `file`. */
  storedAs?: string;
  source: string;
}

const HEADER = ['| file | bytes | sha256 | stored as | source |', '|---|---:|---|---|---|'];

export function renderTable(rows: readonly FixtureRow[]): string {
  const sorted = [...rows].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return [
    ...HEADER,
    ...sorted.map((r) => `| \`${r.file}\` | ${r.bytes} | \`${r.sha256}\` | ${r.storedAs ? `\`${r.storedAs}\`` : '—'} | ${cell(r.source)} |`),
  ].join('\n');
}

/** Splits a README into the kept notes (everything before the marker) and the parsed file table. */
export function parseReadme(text: string, where: string): { notes: string; rows: FixtureRow[] } {
  const at = text.indexOf(TABLE_MARKER);
  if (at < 0) throw new Error(`${where}: no file table (marker line missing)`);
  const notes = text.slice(0, at);
  const rows: FixtureRow[] = [];
  const row = /^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \| (?:`([^`]+)`|—) \| (.*) \|$/;
  for (const line of text.slice(at + TABLE_MARKER.length).split('\n')) {
    if (!line.startsWith('| `')) continue;
    const m = row.exec(line);
    if (!m) throw new Error(`${where}: malformed file-table row: ${line}`);
    const r: FixtureRow = { file: m[1]!, bytes: Number(m[2]), sha256: m[3]!, source: m[5]!.replaceAll('\\|', '|') };
    if (m[4] !== undefined) r.storedAs = m[4];
    rows.push(r);
  }
  return { notes, rows };
}

export function renderReadme(notes: string, rows: readonly FixtureRow[]): string {
  return `${notes.trimEnd()}\n\n${TABLE_MARKER}\n\n${renderTable(rows)}\n`;
}
