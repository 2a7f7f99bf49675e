/**
 * `suit-device run`: N simulated devices against a server.
 *
 *   suit-device run --server URL --count N --profile NAME [--state-dir DIR]
 *       [--anchors FILE --factory-envelope FILE --factory-image FILE]   (to provision new devices)
 *       [--token TOKEN [--tenant ID]]                                   (register them on the server)
 *       [--radio nb-iot|lora|ble|wifi] [--time-scale X] [--airtime] [--payload auto|full]
 *       [--duration SECONDS] [--json]
 *
 * With --state-dir, devices saved there are loaded (a restarted fleet keeps its flash, fuses and agent
 * records); new devices are provisioned only up to --count.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UpdateError, decodeEnvelope, uuidToString } from '../../manifest/index.js';
import { imageClaims } from '../verify.js';
import { Fleet, provisionDevice, snapshotDir } from './fleet.js';

interface RunOpts {
  server: string;
  count: string;
  profile: string;
  stateDir?: string;
  anchors?: string;
  factoryEnvelope?: string;
  factoryImage?: string;
  token?: string;
  tenant?: string;
  radio: string;
  timeScale: string;
  duration?: string;
  prefix: string;
  json?: boolean;
  airtime?: boolean;
  payload?: string;
}

const read = (f: string): Uint8Array => {
  try {
    return new Uint8Array(readFileSync(f));
  } catch (e) {
    throw new UpdateError('FILE_NOT_FOUND', `cannot read ${f}`, { cause: e });
  }
};

async function register(server: string, token: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(server.replace(/\/+$/, '') + '/api/v1/devices', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 400 && res.status !== 409) throw new UpdateError('NETWORK_ERROR', `registering ${String(body['id'])}: ${res.status} ${await res.text()}`);
}

export async function runFleet(o: RunOpts, print: (s: string) => void): Promise<void> {
  // With --json only the summary goes to stdout; progress lines go to stderr.
  const out = o.json ? (s: string) => process.stderr.write(s + '\n') : print;
  const count = Math.max(1, Number(o.count) | 0);
  const fleet = new Fleet({
    server: o.server,
    radio: o.radio,
    timeScale: Number(o.timeScale) || 1,
    ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    ...(o.airtime ? { airtime: true } : {}),
    ...(o.payload === 'full' ? { payload: 'full' as const } : {}),
    log: (e) => {
      if (!o.json && e.kind === 'report') out(`${e.deviceId}: ${e.status}${e.code ? ` (${e.code})` : ''}`);
      if (!o.json && e.kind === 'power-cut') out(`${e.deviceId}: power cut, rebooting`);
    },
  });
  const loaded = fleet.loadSaved();
  if (loaded > 0) out(`loaded ${loaded} device(s) from ${o.stateDir}`);
  if (loaded < count) {
    if (!o.anchors || !o.factoryEnvelope || !o.factoryImage) {
      throw new UpdateError('USAGE', 'provisioning new devices needs --anchors, --factory-envelope and --factory-image');
    }
    const anchors = read(o.anchors);
    const envelope = read(o.factoryEnvelope);
    const image = read(o.factoryImage);
    const claims = imageClaims(decodeEnvelope(envelope).manifest);
    const profiles = o.profile.split(',').map((p) => p.trim()).filter(Boolean);
    for (let i = loaded; i < count; i++) {
      const profile = profiles[i % profiles.length]!;
      const id = `${o.prefix}${String(i + 1).padStart(4, '0')}`;
      if (o.stateDir && snapshotDir(join(o.stateDir, id))) continue;
      const { device, publicKeyPem } = await provisionDevice({
        deviceId: id, profile, identity: { vendorId: claims.vendorId, classId: claims.classId }, anchors, factoryEnvelope: envelope, factoryImage: image,
      });
      if (o.token) {
        await register(o.server, o.token, {
          id, vendorId: uuidToString(claims.vendorId), classId: uuidToString(claims.classId), identityKey: publicKeyPem,
          currentSeq: Number(claims.seq), tags: [profile], ...(o.tenant ? { tenantId: o.tenant } : {}),
        });
      }
      fleet.add(id, device);
    }
    out(`provisioned ${count - loaded} device(s) (${o.profile})${o.token ? ' and registered them' : ''}`);
  }
  fleet.start();
  out(`running ${fleet.members.length} device(s) against ${o.server}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.duration) setTimeout(stop, Number(o.duration) * 1000);
  });
  await fleet.stop();
  const stats = fleet.stats();
  const states = fleet.states();
  const total = (k: keyof (typeof stats)[number]) => stats.reduce((a, s) => a + (s[k] as number), 0);
  const summary = {
    devices: states.length,
    versions: states.reduce<Record<string, number>>((m, s) => ({ ...m, [s.version]: (m[s.version] ?? 0) + 1 }), {}),
    bricked: states.filter((s) => s.bricked).length,
    bytesReceived: total('bytesReceived'),
    bytesSent: total('bytesSent'),
    flashErases: total('flashErases'),
    flashWrites: total('flashWrites'),
    peakRamBytes: Math.max(...stats.map((s) => s.peakRamBytes)),
    signatureVerifications: total('signatureVerifications'),
    energyMillijoules: Math.round(total('energyMillijoules')),
    radio: o.radio,
  };
  print(o.json ? JSON.stringify(summary) : Object.entries(summary).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n'));
}

/** Adds `run` to the suit-device program (device-bootloader-sim/cli.ts). */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run N simulated devices (update agents) against a suit-server')
    .requiredOption('--server <url>', 'server base URL, e.g. http://127.0.0.1:8080')
    .option('--count <n>', 'number of devices', '1')
    .option('--profile <name>', 'flash profile of new devices (a comma list alternates them)', 'nrf52840')
    .option('--state-dir <dir>', 'persist each device (flash, OTP, fuses, agent record) here; reloaded on start')
    .option('--anchors <file>', 'signed root anchor statement for OTP (new devices)')
    .option('--factory-envelope <file>', 'signed envelope of the factory image (new devices)')
    .option('--factory-image <file>', 'factory image (new devices)')
    .option('--token <token>', 'management token to register new devices (admin, or vendor)')
    .option('--tenant <id>', 'register straight into this tenant (admin token)')
    .option('--prefix <p>', 'device id prefix', 'sim-')
    .option('--radio <name>', 'radio energy model: nb-iot, lora, ble, wifi', 'nb-iot')
    .option('--time-scale <x>', 'multiply every wait (0.1 = ten times faster)', '1')
    .option('--airtime', "downloads take the radio's time on air (× --time-scale)")
    .option('--payload <kind>', 'auto (delta when offered) or full', 'auto')
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)')
    .option('--json', 'print the final summary as JSON')
    .action(async (o: RunOpts) => {
      try {
        await runFleet(o, (s) => process.stdout.write(s + '\n'));
      } catch (e) {
        const err = e instanceof UpdateError ? e : new UpdateError('INTERNAL', String(e));
        process.stderr.write(`suit-device: ${err.code}: ${err.message}\n`);
        process.exitCode = err.exitCode;
      }
    });
}
