/**
 * Delta benchmark: our encoder vs Debian's bsdiff and xdelta3 -9 over every pair in bench/corpus
 * (the corpus README lists each file's source and SHA-256).
 * `npm run bench:delta [-- --json] [-- --only SUBSTR]`. Every patch of ours is applied back through the
 * streaming decoder (16 KiB budget, 4 KiB pages) and compared byte for byte; a mismatch exits non-zero.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyDelta, encodeDelta } from '../delta/index.js';
import { corpusPairs, fixturePath, readFixture } from '../test/support/fixtures.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

interface Row {
  name: string;
  newBytes: number;
  patchBytes: number;
  bsdiffBytes: number | null;
  xdelta3Bytes: number | null;
  ratioToBsdiff: number | null;
  applyRamBytes: number;
  encodeSeconds: number;
  bsdiffSeconds: number | null;
}

const notes: string[] = [];
// The baselines come from Debian; install them when missing (as root), else their columns are null.
if (!has('bsdiff') || !has('xdelta3')) {
  spawnSync('bash', [fileURLToPath(new URL('../scripts/apt-ensure.sh', import.meta.url)), 'bsdiff=bsdiff', 'xdelta3=xdelta3'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
const haveBsdiff = has('bsdiff');
const haveXdelta = has('xdelta3');
if (!haveBsdiff) notes.push('bsdiff not installed (apt-get install bsdiff): its columns are null');
if (!haveXdelta) notes.push('xdelta3 not installed (apt-get install xdelta3): its column is null');

const tmp = mkdtempSync(join(tmpdir(), 'delta-bench-'));
const rows: Row[] = [];
let failed = false;
try {
  const names = corpusPairs().filter((n) => !only || n.includes(only));
  // warm the JIT once on a small synthetic pair so the first timed pair is not penalised
  {
    const a = new Uint8Array(50000).map((_, i) => (i * 7) & 0xff);
    const b = a.slice();
    b[100] = 1;
    applyDelta(a, encodeDelta(a, b));
  }
  const RUNS = 3;
  for (const name of names) {
    const fromPath = fixturePath(`corpus/${name}-from.bin`);
    const toPath = fixturePath(`corpus/${name}-to.bin`);
    const old = readFixture(`corpus/${name}-from.bin`);
    const nw = readFixture(`corpus/${name}-to.bin`);
    // Each encoder runs RUNS times and keeps its fastest time: the same noise filter for both, on a
    // machine other work may be loading.
    let patch: Uint8Array = new Uint8Array(0);
    let encodeSeconds = Infinity;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      patch = encodeDelta(old, nw);
      encodeSeconds = Math.min(encodeSeconds, (performance.now() - t0) / 1000);
    }
    const applied = applyDelta(old, patch, { pageSize: 4096, ramBudget: 16384, maxNewSize: nw.length });
    if (Buffer.compare(Buffer.from(applied.output), Buffer.from(nw)) !== 0) {
      failed = true;
      notes.push(`${name}: applied patch does not rebuild the new image`);
    }
    let bsdiffBytes: number | null = null;
    let bsdiffSeconds: number | null = null;
    if (haveBsdiff) {
      const out = join(tmp, `${name}.bsdiff`);
      bsdiffSeconds = Infinity;
      for (let i = 0; i < RUNS; i++) {
        const t1 = performance.now();
        execFileSync('bsdiff', [fromPath, toPath, out]);
        bsdiffSeconds = Math.min(bsdiffSeconds, (performance.now() - t1) / 1000);
      }
      bsdiffBytes = statSync(out).size;
    }
    let xdelta3Bytes: number | null = null;
    if (haveXdelta) {
      const out = join(tmp, `${name}.xd3`);
      execFileSync('xdelta3', ['-9', '-f', '-e', '-s', fromPath, toPath, out]);
      xdelta3Bytes = statSync(out).size;
    }
    rows.push({
      name,
      newBytes: nw.length,
      patchBytes: patch.length,
      bsdiffBytes,
      xdelta3Bytes,
      ratioToBsdiff: bsdiffBytes ? patch.length / bsdiffBytes : null,
      applyRamBytes: applied.peakRamBytes,
      encodeSeconds: Number(encodeSeconds.toFixed(3)),
      bsdiffSeconds: bsdiffSeconds === null ? null : Number(bsdiffSeconds.toFixed(3)),
    });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const ratios = rows.map((r) => r.ratioToBsdiff).filter((r): r is number => r !== null);
const geo = ratios.length ? Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length) : null;
const summary = {
  pairs: rows,
  geoMeanRatioToBsdiff: geo === null ? null : Number(geo.toFixed(4)),
  maxRatioToBsdiff: ratios.length ? Number(Math.max(...ratios).toFixed(4)) : null,
  maxApplyRamBytes: Math.max(0, ...rows.map((r) => r.applyRamBytes)),
  maxEncodeTimeRatioToBsdiff: haveBsdiff ? Number(Math.max(...rows.map((r) => r.encodeSeconds / (r.bsdiffSeconds ?? Infinity))).toFixed(2)) : null,
  ...(notes.length ? { notes } : {}),
};

if (json) console.log(JSON.stringify(summary, null, 2));
else {
  const pad = (s: unknown, n: number) => String(s ?? '-').padStart(n);
  console.log(
    'pair'.padEnd(30) + pad('new', 9) + pad('ours', 9) + pad('bsdiff', 9) + pad('xdelta3', 9) + pad('ratio', 7) + pad('ram', 7) + pad('enc s', 8) + pad('bsd s', 8),
  );
  for (const r of rows)
    console.log(
      r.name.padEnd(30) +
        pad(r.newBytes, 9) +
        pad(r.patchBytes, 9) +
        pad(r.bsdiffBytes, 9) +
        pad(r.xdelta3Bytes, 9) +
        pad(r.ratioToBsdiff?.toFixed(3), 7) +
        pad(r.applyRamBytes, 7) +
        pad(r.encodeSeconds.toFixed(2), 8) +
        pad(r.bsdiffSeconds?.toFixed(2), 8),
    );
  console.log(`geo-mean ratio to bsdiff ${summary.geoMeanRatioToBsdiff}, max ${summary.maxRatioToBsdiff}, max apply RAM ${summary.maxApplyRamBytes} B, max encode time ${summary.maxEncodeTimeRatioToBsdiff}x bsdiff`);
  for (const n of notes) console.log(`note: ${n}`);
}
if (failed) process.exit(1);
