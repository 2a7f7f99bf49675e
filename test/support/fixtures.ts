/**
 * The one place that knows where test data lives. Tests, the demo and the benchmarks name a fixture
 * by a logical path and never build a file path on their own:
 *
 *   suit/…      SUIT envelopes of draft-ietf-suit-manifest, -trust-domains, -firmware-encryption and
 *               libcsuit, with their keys (test/fixtures/suit/)
 *   interop/…   envelopes made by other SUIT tools (test/fixtures/interop/)
 *   merkle/…    RFC 9162 inclusion and consistency proof vectors (test/fixtures/merkle/)
 *   corpus/…    real firmware pairs for the delta codec, the demo and the benchmarks (bench/corpus/)
 *
 * Every folder's README.md lists its files with size, SHA-256 and source (fixture-index.ts); a file
 * whose bytes equal another's is stored once and resolved here, so the repository holds no file twice.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReadme, type FixtureRow } from './fixture-index.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Logical prefix → folder in the repository. */
export const FIXTURE_ROOTS: Readonly<Record<string, string>> = {
  suit: 'test/fixtures/suit',
  interop: 'test/fixtures/interop',
  merkle: 'test/fixtures/merkle',
  corpus: 'bench/corpus',
};

export interface FixtureEntry extends FixtureRow {
  /** Logical name, e.g. `suit/libcsuit/suit_manifest_exp1.hex`. */
  name: string;
  /** Folder of the README (repository-relative), e.g. `test/fixtures/suit/libcsuit`. */
  folder: string;
  /** Absolute path of the stored bytes. */
  path: string;
}

let index: Map<string, FixtureEntry> | undefined;

function* readmes(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* readmes(join(dir, e.name));
    else if (e.name === 'README.md') yield join(dir, e.name);
  }
}

/** Every fixture the READMEs list, by logical name. */
export function fixtureIndex(): ReadonlyMap<string, FixtureEntry> {
  if (index) return index;
  const out = new Map<string, FixtureEntry>();
  for (const [prefix, root] of Object.entries(FIXTURE_ROOTS)) {
    for (const readme of readmes(join(REPO_ROOT, root))) {
      const dir = join(readme, '..');
      const sub = relative(join(REPO_ROOT, root), dir).split(sep).filter(Boolean);
      const folder = relative(REPO_ROOT, dir).split(sep).join('/');
      for (const row of parseReadme(readFileSync(readme, 'utf8'), folder).rows) {
        const name = [prefix, ...sub, row.file].join('/');
        out.set(name, { ...row, name, folder, path: join(dir, row.storedAs ?? row.file) });
      }
    }
  }
  index = out;
  return out;
}

/** Absolute path of a fixture's bytes (resolving a file stored under another name). */
export function fixturePath(name: string): string {
  const e = fixtureIndex().get(name);
  if (!e) throw new Error(`unknown fixture ${name}: not listed in any fixture README (see test/fixtures/README.md)`);
  return e.path;
}

export function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(name)));
}

export function readFixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** A hex-text fixture (whitespace ignored) as bytes. */
export function readHexFixture(name: string): Uint8Array {
  const hex = readFixtureText(name).replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`fixture ${name} is not hex text`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Logical names of the fixtures directly in a folder (`recursive`: and below it), sorted. */
export function listFixtures(folder: string, opts: { recursive?: boolean } = {}): string[] {
  const base = folder.replace(/\/+$/, '') + '/';
  return [...fixtureIndex().keys()]
    .filter((n) => n.startsWith(base) && (opts.recursive || !n.slice(base.length).includes('/')))
    .filter((n) => !n.endsWith('/README.md'))
    .sort();
}

/** Names of the corpus pairs (`NAME-from.bin` → `NAME-to.bin`), sorted. */
export function corpusPairs(): string[] {
  return listFixtures('corpus')
    .map((n) => /^corpus\/(.+)-from\.bin$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined && fixtureIndex().has(`corpus/${n}-to.bin`));
}

/** A corpus pair as [old image, new image]. */
export function readCorpusPair(name: string): [Uint8Array, Uint8Array] {
  return [readFixture(`corpus/${name}-from.bin`), readFixture(`corpus/${name}-to.bin`)];
}
