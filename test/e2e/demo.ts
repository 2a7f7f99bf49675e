/**
 * `npm run demo`: a release signed offline reaches a simulated fleet through the server.
 * `npm run demo -- --json` prints only the summary as JSON. See docs/demo.md for what happens.
 */
import { runStory, type StoryProgress } from './story.js';

const json = process.argv.includes('--json');
const devicesArg = process.argv.find((a) => a.startsWith('--devices='));
const devices = devicesArg ? Math.max(4, Number(devicesArg.split('=')[1]) | 0) : 50;
const tty = !json && process.stdout.isTTY === true;
const out = (s: string): void => {
  if (!json) process.stdout.write(s + '\n');
};

let drawn = 0;
let lastLine = '';
function bar(n: number, total: number, width = 30): string {
  const k = total === 0 ? 0 : Math.round((n / total) * width);
  return '█'.repeat(k) + '░'.repeat(width - k);
}
function progress(p: StoryProgress): void {
  if (json) return;
  const c = p.counts;
  const active = (c['assigned'] ?? 0) + (c['downloading'] ?? 0) + (c['installed'] ?? 0) + (c['booted'] ?? 0);
  const vers = Object.entries(p.versions).sort().map(([v, n]) => `${v}: ${n}`).join('  ');
  const line = `${p.stage} [${p.rolloutState}, phase ${p.phase + 1}] confirmed ${c['confirmed'] ?? 0}, in progress ${active}, reverted ${c['reverted'] ?? 0}, failed ${c['failed'] ?? 0} | ${vers}`;
  if (tty) {
    const lines = [
      `  ${p.stage}  rollout ${p.rolloutState}, phase ${p.phase + 1}`,
      `  confirmed ${bar(c['confirmed'] ?? 0, p.devices)} ${String(c['confirmed'] ?? 0).padStart(3)}`,
      `  updating  ${bar(active, p.devices)} ${String(active).padStart(3)}`,
      `  reverted  ${bar(c['reverted'] ?? 0, p.devices)} ${String(c['reverted'] ?? 0).padStart(3)}`,
      `  fleet     ${vers}`,
    ];
    if (drawn) process.stdout.write(`\x1b[${drawn}A`);
    for (const l of lines) process.stdout.write(`\x1b[2K${l}\n`);
    drawn = lines.length;
  } else if (line !== lastLine) {
    out(line);
  }
  lastLine = line;
}

const t0 = Date.now();
out(`suit-fleet demo: ${devices} simulated devices, one server, releases signed offline\n`);
const s = await runStory({
  devices,
  profiles: ['nrf52840', 'smallpage'],
  powerCuts: Math.max(1, Math.round(devices / 12)),
  linkCuts: Math.max(1, Math.round(devices / 10)),
  fullImageDevice: true,
  progress,
  note: (l) => {
    if (json) return;
    drawn = 0;
    out(`• ${l}`);
  },
});
if (json) {
  const { devices: d, updated, reverted, bricked, rolloutState, bytesOnAir, bytesOnAirFull, seconds } = s;
  process.stdout.write(JSON.stringify({ devices: d, updated, reverted, bricked, rolloutState, bytesOnAir, bytesOnAirFull, seconds }) + '\n');
} else {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  out('');
  out('summary');
  out(`  devices            ${s.devices} (${Object.entries(s.versions).sort().map(([v, n]) => `${n} on ${v}`).join(', ')})`);
  out(`  updated to 1.1.0   ${s.updated} (rollout 1 ${s.firstRollout.state}); images staged: ${s.updatesByDelta} by delta, ${s.updatesByFull} by full image`);
  out(`  reverted           ${s.reverted} (1.2.0 failed its self-test; rollout 2 ${s.rolloutState}${s.secondRollout.pauseReason ? `: ${s.secondRollout.pauseReason}` : ''})`);
  out(`  bricked            ${s.bricked}`);
  out(`  power cuts         ${s.powerCuts} (all recovered), broken links ${s.linkBreaks} (resumed with Range)`);
  out(`  bytes on air       ${kb(s.bytesOnAir)} with deltas vs ${kb(s.bytesOnAirFull)} with full images (${((s.bytesOnAir / s.bytesOnAirFull) * 100).toFixed(0)} %)`);
  out(`  radio energy       ${(s.energyMillijoules / 1000).toFixed(1)} J over the fleet (NB-IoT model, docs/agent.md)`);
  out(`  time               ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
process.exitCode = s.bricked === 0 ? 0 : 1;
