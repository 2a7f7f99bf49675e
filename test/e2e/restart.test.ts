/**
 * A fleet that survives kill -9: `suit-device run --state-dir` child processes are killed (SIGKILL) at
 * random moments of a rollout and restarted from their state directories. The saved flash and the
 * agent's progress record are one snapshot, so a restart is a power cut: every device must end on the
 * new image, and no device may report `failed` or `reverted` because of a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../device-bootloader-sim/agent/index.js';
import { TENANT, api, buildWorld, corpusPair, publish, rollout, startRollout, waitForDelta } from './story.js';
import { sha256hex } from './util.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Runner {
  name: string;
  args: string[];
  child?: ChildProcess;
  out: string;
  kills: number;
  starts: number;
}

function start(r: Runner): Promise<void> {
  r.starts++;
  const child = spawn(process.execPath, [join(ROOT, 'bin/suit-device.mjs'), 'run', ...r.args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  r.child = child;
  return new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`${r.name} did not start\n${r.out.slice(-2000)}`)), 15_000).unref();
    const onData = (b: Buffer) => {
      r.out += b.toString();
      if (/running \d+ device/.test(r.out.slice(-2000))) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (r.out += b.toString()));
    child.once('exit', (code, sig) => reject(new Error(`${r.name} exited early (${code ?? sig})\n${r.out.slice(-2000)}`)));
  });
}

function kill(r: Runner, signal: NodeJS.Signals): Promise<void> {
  const c = r.child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill(signal);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fleet runner killed with SIGKILL and restarted (--state-dir)', () => {
  it('every device finishes on the right image with no failed or reverted report', async () => {
    const [v1, v2] = await corpusPair('mbed-blinky-k64f');
    const w = await buildWorld([{ name: 'v1', version: '1.0.0', image: v1 }, { name: 'v2', version: '1.1.0', image: v2 }]);
    const runners: Runner[] = [];
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    try {
      const [r1, r2] = w.releases as [(typeof w.releases)[number], (typeof w.releases)[number]];
      await publish(w, r1);
      await publish(w, r2);
      await waitForDelta(w, r1, r2);
      const files = { anchors: join(w.dir, 'anchors.cbor'), env: join(w.dir, 'v1.suit'), img: join(w.dir, 'v1.bin') };
      await writeFile(files.anchors, w.anchors);
      await writeFile(files.env, r1.envelope);
      await writeFile(files.img, r1.image);
      const common = (prefix: string, dir: string, radio: string, scale: string) => [
        '--server', w.server.url, '--count', '3', '--state-dir', join(w.dir, dir), '--prefix', prefix,
        '--anchors', files.anchors, '--factory-envelope', files.env, '--factory-image', files.img,
        '--token', w.admin, '--tenant', TENANT, '--time-scale', scale, '--airtime', '--radio', radio,
      ];
      // Full images (NB-IoT, 4 KiB pages) and deltas (LoRa, 512-byte pages), each in its own process;
      // radio pacing makes the downloads last a few seconds so the kills land in them.
      runners.push({ name: 'full', args: [...common('full-', 'fleet-full', 'nb-iot', '0.25'), '--profile', 'nrf52840,stm32f4', '--payload', 'full'], out: '', kills: 0, starts: 0 });
      runners.push({ name: 'delta', args: [...common('delta-', 'fleet-delta', 'lora', '1'), '--profile', 'smallpage,nrf52840'], out: '', kills: 0, starts: 0 });
      await Promise.all(runners.map(start));
      const id = await startRollout(w, r2, 'restart', [{ percent: 100 }]);

      // Kill each runner at random moments (0.3–1.5 s apart) while the rollout runs, then let it finish.
      const end = Date.now() + 40_000;
      let ro = await rollout(w, id);
      const killing = runners.map(async (r) => {
        while (r.kills < 6 && Date.now() < end) {
          await sleep(300 + rnd() * 1200);
          ro = await rollout(w, id);
          if (ro.state === 'completed') break;
          await kill(r, 'SIGKILL');
          r.kills++;
          await start(r);
        }
      });
      await Promise.all(killing);
      while (Date.now() < end) {
        ro = await rollout(w, id);
        if (ro.state === 'completed' && !['assigned', 'downloading', 'installed', 'booted'].some((s) => ro.counts[s])) break;
        await sleep(200);
      }
      await Promise.all(runners.map((r) => kill(r, 'SIGTERM')));

      expect(runners.reduce((a, r) => a + r.kills, 0)).toBeGreaterThanOrEqual(6);
      expect(ro.state).toBe('completed');
      expect(ro.counts['confirmed']).toBe(6);
      expect(ro.counts['failed'] ?? 0).toBe(0);
      expect(ro.counts['reverted'] ?? 0).toBe(0);
      const log = runners.map((r) => r.out).join('\n');
      expect(log).not.toMatch(/: (failed|reverted)\b/);
      // The server's report history of each device: no failed/reverted report, and it confirmed.
      for (const r of runners) {
        for (let i = 1; i <= 3; i++) {
          const devId = `${r.name}-${String(i).padStart(4, '0')}`;
          const hist = await api(w, w.admin, 'GET', `/api/v1/devices/${devId}/reports`);
          const text = JSON.stringify(hist.items);
          expect(text, devId).not.toMatch(/"(status|result)":"(failed|reverted)"/);
          expect(text, devId).toMatch(/"status":"confirmed"/);
          // The device's own saved state: the new image, committed.
          const snap = loadSnapshot(join(w.dir, `fleet-${r.name}`, devId))!;
          const info = await snap.device.boot();
          expect(info.imageDigest, devId).toBe(sha256hex(v2));
          expect(Number(info.committedSequenceNumber), devId).toBe(2);
          expect(snap.nvm?.record, devId).toBeUndefined();
        }
      }
    } finally {
      await Promise.all(runners.map((r) => kill(r, 'SIGKILL')));
      await w.close();
    }
  }, 90_000);
});
