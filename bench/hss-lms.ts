/**
 * HSS-LMS (RFC 8554) benchmark: key generation, signing from a tree cache (first signature of a
 * fresh process, later ones), entering a new lower-level tree, verification and signature size, with
 * Ed25519 measured in the same run for scale.
 * `npx tsx bench/hss-lms.ts [--json] [--only H10/H10W8]`.
 */
import { generateKey, getAlgorithm, HssLmsSigner, hssVerify } from '../manifest/index.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;

const SETS: { name: string; heights: number[]; w: number }[] = [
  { name: 'H5W8', heights: [5], w: 8 },
  { name: 'H10W8', heights: [10], w: 8 },
  { name: 'H10/H10W8', heights: [10, 10], w: 8 },
  { name: 'H15W4', heights: [15], w: 4 },
];

const now = (): number => performance.now();
function time<T>(f: () => T): [T, number] {
  const t = now();
  const r = f();
  return [r, now() - t];
}
const msg = (i: number): Uint8Array => new TextEncoder().encode(`firmware manifest digest #${i} ${'x'.repeat(32)}`);

// Ed25519 reference, same process.
const ed = generateKey('ed25519');
const edAlg = getAlgorithm(ed.alg);
const edPub = ed.publicKey().publicKey;
for (let i = 0; i < 50; i++) edAlg.verify(edPub, msg(i), ed.sign(msg(i))); // warm-up
const ED_N = 300;
const edSigs: Uint8Array[] = [];
const [, edSignMs] = time(() => {
  for (let i = 0; i < ED_N; i++) edSigs.push(ed.sign(msg(i)));
});
const [, edVerifyMs] = time(() => {
  for (let i = 0; i < ED_N; i++) if (!edAlg.verify(edPub, msg(i), edSigs[i]!)) throw new Error('ed25519 verify failed');
});
const edSign = edSignMs / ED_N;
const edVerify = edVerifyMs / ED_N;

interface Row {
  params: string;
  signatures: number;
  keygenMs: number;
  cacheBytes: number;
  loadCacheMs: number;
  firstSignMs: number;
  signMs: number;
  newLowerTreeMs: number | null;
  verifyMs: number;
  signatureBytes: number;
  signVsEd25519: number;
  verifyVsEd25519: number;
}

const rows: Row[] = [];
for (const set of SETS) {
  if (only && set.name !== only) continue;
  const [gen, keygenMs] = time(() => HssLmsSigner.generate({ heights: set.heights, w: set.w }));
  const pub = gen.publicKey().publicKey;
  const cache = gen.exportTreeCache();
  const priv = HssLmsSigner.privateBytes(gen);
  // What a fresh `suit-sign sign` process does: parse the key, load + check the cache, sign once.
  const [k, loadCacheMs] = time(() => HssLmsSigner.fromPrivateBytes(priv, { treeCache: cache, expectedKid: gen.kid }));
  if (!k.usingTreeCache) throw new Error(`${set.name}: cache refused`);
  const [first, firstSignMs] = time(() => k.signAt(1, msg(1)));
  const N = 20;
  const sigs: Uint8Array[] = [];
  const [, signTotal] = time(() => {
    for (let i = 0; i < N; i++) sigs.push(k.signAt(2 + i, msg(2 + i)));
  });
  const [, verifyTotal] = time(() => {
    for (let i = 0; i < N; i++) if (!hssVerify(pub, msg(2 + i), sigs[i]!)) throw new Error(`${set.name}: verify failed`);
  });
  let newLowerTreeMs: number | null = null;
  if (set.heights.length > 1) {
    const idx = 2 ** set.heights.at(-1)!; // first index of the second lower tree
    [, newLowerTreeMs] = time(() => k.signAt(idx, msg(idx)));
  }
  const signMs = signTotal / N;
  const verifyMs = verifyTotal / N;
  rows.push({
    params: set.name,
    signatures: gen.totalSignatures(),
    keygenMs,
    cacheBytes: cache.length,
    loadCacheMs,
    firstSignMs,
    signMs,
    newLowerTreeMs,
    verifyMs,
    signatureBytes: first.length,
    signVsEd25519: signMs / edSign,
    verifyVsEd25519: verifyMs / edVerify,
  });
  if (!json) process.stderr.write(`${set.name} done\n`);
}

if (json) {
  console.log(JSON.stringify({ ed25519: { signMs: edSign, verifyMs: edVerify, signatureBytes: edSigs[0]!.length }, hssLms: rows }, null, 2));
} else {
  const f = (v: number | null, d = 1): string => (v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(d)} ms`);
  const head = ['params', 'sigs', 'keygen', 'cache', 'load cache', '1st sign', 'sign', 'new lower tree', 'verify', 'sig bytes', 'sign/Ed25519', 'verify/Ed25519'];
  const body = rows.map((r) => [
    r.params,
    String(r.signatures),
    f(r.keygenMs),
    `${(r.cacheBytes / 1024).toFixed(0)} KiB`,
    f(r.loadCacheMs),
    f(r.firstSignMs),
    f(r.signMs),
    f(r.newLowerTreeMs),
    f(r.verifyMs),
    String(r.signatureBytes),
    `${r.signVsEd25519.toFixed(0)}x`,
    `${r.verifyVsEd25519.toFixed(0)}x`,
  ]);
  body.push(['Ed25519', '-', '-', '-', '-', '-', f(edSign, 3), '-', f(edVerify, 3), String(edSigs[0]!.length), '1x', '1x']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(w[i]!)).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const b of body) console.log(line(b));
  console.log('\nsign = one signature from the tree cache (includes the verify-before-release check); 1st sign = first in a process that just loaded the cache.');
}
