/**
 * `npm run demo`: a release signed offline reaches a simulated fleet through the server.
 * `npm run -s demo -- --json` prints only the summary as JSON on stdout (notes go to stderr).
 * Exit code 0 only when the story's expectations hold (bricked 0 among them). Ctrl-C stops the
 * fleet, the server and removes the temp dir. See docs/demo.md for what happens.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RADIOS, radioCost } from '../../device-bootloader-sim/agent/index.js';
import { runStory, type StoryProgress, type StorySummary } from './story.js';

const json = process.argv.includes('--json');
const devicesArg = process.argv.find((a) => a.startsWith('--devices='));
const devices = devicesArg ? Math.max(4, Number(devicesArg.split('=')[1]) | 0) : 50;
const tty = !json && process.stdout.isTTY === true;
const color = tty && !process.env['NO_COLOR'];
const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string) => paint('1', s);
const green = (s: string) => paint('32', s);
const red = (s: string) => paint('31', s);
const dim = (s: string) => paint('2', s);
/** Story lines: stdout normally, stderr with --json (stdout carries only the JSON object). */
const out = (s: string): void => {
  (json ? process.stderr : process.stdout).write(s + '\n');
};

// ------------------------------------------------------------------ live progress

let block: string[] = [];
let drawn = 0;
let lastLine = '';
function bar(n: number, total: number, width = 30): string {
  const k = total === 0 ? 0 : Math.min(width, Math.round((n / total) * width));
  return '█'.repeat(k) + dim('░'.repeat(width - k));
}
function erase(): void {
  if (drawn) process.stdout.write(`\x1b[${drawn}A\x1b[J`);
  drawn = 0;
}
function draw(): void {
  erase();
  for (const l of block) process.stdout.write(`${l}\n`);
  drawn = block.length;
}
function progress(p: StoryProgress): void {
  const c = p.counts;
  const active = (c['assigned'] ?? 0) + (c['downloading'] ?? 0) + (c['installed'] ?? 0) + (c['booted'] ?? 0);
  const vers = Object.entries(p.versions).sort().map(([v, n]) => `${v}: ${n}`).join('  ');
  if (tty) {
    const n = (x: number) => String(x).padStart(3);
    block = [
      `  ${bold(p.stage)}  rollout ${p.rolloutState}, phase ${p.phase + 1}`,
      `    confirmed ${bar(c['confirmed'] ?? 0, p.devices)} ${n(c['confirmed'] ?? 0)}`,
      `    updating  ${bar(active, p.devices)} ${n(active)}`,
      `    reverted  ${bar(c['reverted'] ?? 0, p.devices)} ${n(c['reverted'] ?? 0)}`,
      `    fleet     ${vers}`,
    ];
    draw();
    return;
  }
  const line = `  ${p.stage} [${p.rolloutState}, phase ${p.phase + 1}] confirmed ${c['confirmed'] ?? 0}, in progress ${active}, reverted ${c['reverted'] ?? 0}, failed ${c['failed'] ?? 0} | ${vers}`;
  if (line !== lastLine) out(line);
  lastLine = line;
}
function note(l: string): void {
  if (tty) {
    // Notes scroll above the live block, which is redrawn under them.
    erase();
    out(`• ${l}`);
    if (block.length) draw();
    return;
  }
  out(`• ${l}`);
}

// ------------------------------------------------------------------ Ctrl-C and clean-up

// Everything temporary goes under one run directory (the story's mkdtemp uses os.tmpdir(), which reads
// TMPDIR). A detached janitor removes it when this process is gone, however it ended: `tsx` (the npm
// script's runner) SIGKILLs its child when the child's event loop does not acknowledge a Ctrl-C within
// 30 ms, which a busy 50-device fleet easily misses. The in-process server dies with the process.
const runDir = mkdtempSync(join(tmpdir(), 'suit-demo-run-'));
process.env['TMPDIR'] = runDir;
spawn(
  process.execPath,
  ['-e', "const [pid, dir] = process.argv.slice(1); setInterval(() => { try { process.kill(Number(pid), 0) } catch { require('node:fs').rmSync(dir, { recursive: true, force: true }); process.exit(0) } }, 250)", String(process.pid), runDir],
  { detached: true, stdio: 'ignore' },
).unref();
process.on('exit', () => rmSync(runDir, { recursive: true, force: true }));

const ac = new AbortController();
// SIGTERM/SIGHUP too: wrappers (npm, npx, tsx) may pass the interrupt on as another signal.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (ac.signal.aborted) return;
    if (tty) erase();
    process.stderr.write(`\n${sig === 'SIGINT' ? 'interrupted' : sig}: stopping the fleet and the server, removing the temp dir\n`);
    ac.abort();
  });
}

// ------------------------------------------------------------------ the story

/** The story's expectations; any failure makes the exit code non-zero. */
function checks(s: StorySummary): { name: string; ok: boolean }[] {
  return [
    { name: 'no device bricked', ok: s.bricked === 0 },
    { name: 'rollout 1 (1.1.0) completed', ok: s.firstRollout.state === 'completed' },
    { name: 'every device runs 1.1.0 at the end', ok: s.updated === s.devices && (s.versions['1.1.0'] ?? 0) === s.devices },
    { name: 'the bad release was reverted on at least one device', ok: s.reverted >= 1 },
    { name: 'rollout 2 (1.2.0) paused itself', ok: s.secondRollout.state === 'paused' },
    { name: 'deltas cost fewer bytes on air than full images', ok: s.bytesOnAir < s.bytesOnAirFull },
  ];
}

/** Joules for the fleet's traffic with deltas and with full images, per radio model. */
function energy(s: StorySummary): Record<string, { delta: number; full: number }> {
  const rxFull = s.bytesReceived - s.deltaBytes + s.deltaFullEquivalent;
  const J = (mj: number) => Math.round(mj / 100) / 10;
  return Object.fromEntries(
    Object.values(RADIOS).map((r) => [r.name, { delta: J(radioCost(r, s.bytesReceived, s.bytesSent).millijoules), full: J(radioCost(r, rxFull, s.bytesSent).millijoules) }]),
  );
}

const t0 = Date.now();
out(bold(`suit-fleet demo: ${devices} simulated devices, one server, releases signed offline`));
out('');
let s: StorySummary;
try {
  s = await runStory({
    devices,
    profiles: ['nrf52840', 'smallpage'],
    powerCuts: Math.max(1, Math.round(devices / 12)),
    linkCuts: Math.max(1, Math.round(devices / 10)),
    fullImageDevice: true,
    progress,
    note,
    signal: ac.signal,
  });
} catch (e) {
  if (tty) erase();
  process.stderr.write(`${ac.signal.aborted ? 'demo interrupted' : `demo failed: ${(e as Error).stack ?? String(e)}`}; cleaned up\n`);
  process.exit(ac.signal.aborted ? 130 : 1);
}
block = []; // the last picture stays on screen above the summary
drawn = 0;
const seconds = Math.round((Date.now() - t0) / 100) / 10;
const results = checks(s);
const ok = results.every((c) => c.ok);
const saving = Math.round((1 - s.bytesOnAir / s.bytesOnAirFull) * 1000) / 10;
const perRadio = energy(s);

if (json) {
  const { devices: d, updated, reverted, bricked, rolloutState, bytesOnAir, bytesOnAirFull } = s;
  process.stdout.write(
    JSON.stringify({
      devices: d, updated, reverted, bricked, rolloutState, bytesOnAir, bytesOnAirFull, seconds,
      savingPercent: saving, versions: s.versions, energyJoules: perRadio, ok, failedChecks: results.filter((c) => !c.ok).map((c) => c.name),
    }) + '\n',
  );
} else {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const fmtJ = (j: number) => (j >= 10 ? `${j.toFixed(0)} J` : `${j.toFixed(1)} J`);
  const row = (k: string, v: string) => out(`  ${k.padEnd(18)} ${v}`);
  out('');
  out(bold('summary'));
  row('devices', `${s.devices}: ${Object.entries(s.versions).sort().map(([v, n]) => `${n} on ${v}`).join(', ')}`);
  row('updated to 1.1.0', `${s.updated} (rollout 1 ${s.firstRollout.state}); ${s.updatesByDelta} updates staged from a delta, ${s.updatesByFull} from the full image (the baseline device)`);
  row('reverted', `${s.reverted}: 1.2.0 failed its self-test, the bootloader went back to 1.1.0`);
  row('rollout 2 (1.2.0)', `${s.rolloutState}${s.secondRollout.pauseReason ? `: ${s.secondRollout.pauseReason}` : ''}; ${s.devices - s.reverted} devices never installed it`);
  row('bricked', s.bricked === 0 ? green('0') : red(String(s.bricked)));
  row('faults survived', `${s.powerCuts} power cuts mid-update (resumed from the last page boundary), ${s.linkBreaks} broken links (resumed with Range)`);
  row('bytes on air', `${kb(s.bytesOnAir)} with deltas vs ${kb(s.bytesOnAirFull)} with full images: ${bold(`${saving} % saved`)}`);
  row('radio energy', 'fleet total, with deltas vs full images (active radio only, docs/agent.md)');
  for (const r of Object.values(RADIOS)) {
    const e = perRadio[r.name]!;
    out(`    ${r.name.padEnd(7)} ${fmtJ(e.delta).padStart(8)} vs ${fmtJ(e.full).padStart(8)}   ${dim(r.description)}`);
  }
  row('time', `${seconds} s`);
  out('');
  for (const c of results) out(`  ${c.ok ? green('✓') : red('✗')} ${c.name}`);
  out(ok ? green('  all expectations hold') : red('  some expectations failed'));
}
process.exitCode = ok ? 0 : 1;
