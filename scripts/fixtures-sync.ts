/**
 * `npm run fixtures:sync [-- --from DIR] [--check] [--json]`
 *
 * Copies test vectors and the delta corpus from the team's shared data folder (by default `shared/`
 * beside the repository, i.e. `../shared`) into the repository, stores each distinct content once,
 * and rewrites the file table of every fixture folder's README.md (size, SHA-256, stored-as, source),
 * keeping the notes above the table. Nothing else in the project reads that folder: tests, the demo
 * and the benchmarks use only the copies (test/support/fixtures.ts). CI never runs this.
 *
 *   vectors/suit    → test/fixtures/suit
 *   vectors/interop → test/fixtures/interop
 *   vectors/merkle  → test/fixtures/merkle
 *   corpus          → bench/corpus
 *
 * `--check` changes nothing and exits 1 when the copies differ from the source.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseReadme, renderReadme, type FixtureRow } from '../test/support/fixture-index.js';

const REPO = fileURLToPath(new URL('../', import.meta.url));

export const MAPPING: ReadonlyArray<readonly [string, string]> = [
  ['vectors/suit', 'test/fixtures/suit'],
  ['vectors/interop', 'test/fixtures/interop'],
  ['vectors/merkle', 'test/fixtures/merkle'],
  ['corpus', 'bench/corpus'],
];

interface SourceFile {
  src: string; // absolute
  destFolder: string; // repo-relative, posix
  file: string;
  bytes: number;
  sha256: string;
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.isDirectory()) yield* walk(join(dir, e.name));
    else if (e.isFile()) yield join(dir, e.name);
  }
}

const toPosix = (p: string) => p.split(sep).join('/');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The source a folder's upstream README gives a file in a table row that names it (last cell), if any. */
function upstreamSource(readme: string | undefined, file: string): string | undefined {
  if (!readme) return undefined;
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4) continue;
    const first = cells[1]!.replaceAll('`', '');
    if (first === file) return cells[cells.length - 2];
  }
  return undefined;
}

export interface SyncResult {
  from: string;
  copied: string[];
  removed: string[];
  readmes: string[];
  missingSource: string[];
  keptLocal: string[];
}

export function sync(from: string, opts: { check: boolean }): SyncResult {
  const files: SourceFile[] = [];
  const upstreamReadmes = new Map<string, string>(); // dest folder → upstream README text
  for (const [srcRel, destRel] of MAPPING) {
    const srcRoot = join(from, srcRel);
    if (!existsSync(srcRoot)) throw new Error(`${srcRoot} does not exist`);
    for (const abs of walk(srcRoot)) {
      const rel = toPosix(relative(srcRoot, abs));
      const destFolder = posix.join(destRel, posix.dirname(rel));
      const file = posix.basename(rel);
      if (file === 'README.md') {
        upstreamReadmes.set(destFolder, readFileSync(abs, 'utf8'));
        continue;
      }
      const b = readFileSync(abs);
      files.push({ src: abs, destFolder, file, bytes: b.length, sha256: sha256(b) });
    }
  }
  files.sort((a, b) => (posix.join(a.destFolder, a.file) < posix.join(b.destFolder, b.file) ? -1 : 1));

  const storedAt = new Map<string, string>(); // sha256 → repo-relative path of the stored copy
  const byFolder = new Map<string, { row: FixtureRow; src: string }[]>();
  const result: SyncResult = { from, copied: [], removed: [], readmes: [], missingSource: [], keptLocal: [] };

  const existing = new Map<string, { notes: string; rows: Map<string, FixtureRow> }>();
  const readExisting = (folder: string) => {
    if (!existing.has(folder)) {
      const p = join(REPO, folder, 'README.md');
      if (existsSync(p)) {
        const parsed = parseReadme(readFileSync(p, 'utf8'), folder);
        existing.set(folder, { notes: parsed.notes, rows: new Map(parsed.rows.map((r) => [r.file, r])) });
      } else existing.set(folder, { notes: '', rows: new Map() });
    }
    return existing.get(folder)!;
  };

  for (const f of files) {
    const destPath = posix.join(f.destFolder, f.file);
    const prior = readExisting(f.destFolder).rows.get(f.file);
    let source = prior?.source ?? upstreamSource(upstreamReadmes.get(f.destFolder), f.file);
    if (!source) {
      source = 'see the notes above';
      result.missingSource.push(destPath);
    }
    const row: FixtureRow = { file: f.file, bytes: f.bytes, sha256: f.sha256, source };
    const first = storedAt.get(f.sha256);
    if (first) row.storedAs = posix.relative(f.destFolder, first);
    else storedAt.set(f.sha256, destPath);
    const list = byFolder.get(f.destFolder) ?? [];
    list.push({ row, src: f.src });
    byFolder.set(f.destFolder, list);
  }

  for (const [folder, list] of byFolder) {
    const ex = readExisting(folder);
    const rows = list.map((x) => x.row);
    // Files listed here that the source does not have are the project's own: kept, and said so.
    for (const [file, r] of ex.rows) {
      if (!list.some((x) => x.row.file === file)) {
        rows.push(r);
        result.keptLocal.push(posix.join(folder, file));
      }
    }
    for (const { row, src } of list) {
      const dest = join(REPO, folder, row.file);
      if (row.storedAs) {
        if (existsSync(dest)) {
          result.removed.push(posix.join(folder, row.file));
          if (!opts.check) rmSync(dest);
        }
        continue;
      }
      if (!existsSync(dest) || sha256(readFileSync(dest)) !== row.sha256) {
        result.copied.push(posix.join(folder, row.file));
        if (!opts.check) {
          mkdirSync(dirname(dest), { recursive: true });
          copyFileSync(src, dest);
        }
      }
    }
    const notes = ex.notes.trim() ? ex.notes : `# ${folder}\n\n${upstreamReadmes.get(folder) ? 'Upstream notes, to review:\n\n' + upstreamReadmes.get(folder) : 'Describe where these files come from.'}\n`;
    const text = renderReadme(notes, rows);
    const readmePath = join(REPO, folder, 'README.md');
    if (!existsSync(readmePath) || readFileSync(readmePath, 'utf8') !== text) {
      result.readmes.push(posix.join(folder, 'README.md'));
      if (!opts.check) {
        mkdirSync(dirname(readmePath), { recursive: true });
        writeFileSync(readmePath, text);
      }
    }
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command('fixtures:sync')
    .description('Copy test vectors and the delta corpus from the shared data folder into the repository and rewrite the fixture READMEs.')
    .option('--from <dir>', 'the shared data folder', join(REPO, '..', 'shared'))
    .option('--check', 'change nothing; exit 1 if the copies differ from the source')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  npm run fixtures:sync -- --check\n  npm run fixtures:sync -- --from /path/to/shared');
  program.parse();
  const o = program.opts<{ from: string; check?: boolean; json?: boolean }>();
  let r: SyncResult;
  try {
    r = sync(o.from, { check: !!o.check });
  } catch (e) {
    process.stderr.write(`fixtures:sync: ${(e as Error).message}\n`);
    process.exit(66);
  }
  if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else {
    const verb = o.check ? 'would copy' : 'copied';
    for (const p of r.copied) process.stdout.write(`${verb} ${p}\n`);
    for (const p of r.removed) process.stdout.write(`${o.check ? 'would remove' : 'removed'} ${p} (same bytes stored under another name)\n`);
    for (const p of r.readmes) process.stdout.write(`${o.check ? 'would rewrite' : 'rewrote'} ${p}\n`);
    for (const p of r.missingSource) process.stdout.write(`no source known for ${p}: add it to that README's table\n`);
    for (const p of r.keptLocal) process.stdout.write(`kept ${p} (not in the source)\n`);
    if (!r.copied.length && !r.removed.length && !r.readmes.length) process.stdout.write('fixtures are in sync\n');
  }
  if (o.check && (r.copied.length || r.removed.length || r.readmes.length)) process.exit(1);
}
