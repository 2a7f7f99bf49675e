/**
 * A simulated fleet: N devices, each a Device (flash, OTP, bootloader) with an UpdateAgent, run
 * concurrently in one process against a server. With a state directory every device's flash, OTP,
 * fuses and agent record are saved there (on stop and periodically), so a fleet survives a restart.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { createPublicKey, randomBytes } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { toHex } from '../../manifest/index.js';
import { Device } from '../device.js';
import type { EraseValue } from '../flash.js';
import { UpdateAgent, type AgentEvent, type AgentFaults, type AgentStats } from './agent.js';
import { AgentNvm } from './nvm.js';
import { getRadio } from './radio.js';
import type { DeviceIdentity } from '../verify.js';

ed.hashes.sha512 ??= sha512;

export interface ProvisionSpec {
  deviceId: string;
  profile: string;
  eraseValue?: EraseValue;
  identity: Omit<DeviceIdentity, 'deviceId'>;
  /** The signed root anchor statement burnt into OTP. */
  anchors: Uint8Array;
  factoryEnvelope: Uint8Array;
  factoryImage: Uint8Array;
}

/** Factory: OTP (anchors, identity key), signed image in the primary slot, first boot. */
export async function provisionDevice(s: ProvisionSpec): Promise<{ device: Device; publicKeyHex: string; publicKeyPem: string }> {
  const secret = new Uint8Array(randomBytes(32));
  const device = new Device({
    profile: s.profile,
    eraseValue: s.eraseValue ?? 0xff,
    identity: { ...s.identity, deviceId: new TextEncoder().encode(s.deviceId) },
    anchors: s.anchors,
    identityKey: secret,
  });
  await device.factoryInstall(s.factoryEnvelope, s.factoryImage);
  await device.boot();
  const pub = ed.getPublicKey(secret);
  const publicKeyPem = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  return { device, publicKeyHex: toHex(pub), publicKeyPem };
}

export interface FleetMember {
  id: string;
  agent: UpdateAgent;
  dir?: string;
}

export interface FleetOptions {
  server: string;
  radio?: string;
  timeScale?: number;
  stateDir?: string;
  faults?: (deviceId: string) => AgentFaults | undefined;
  healthCheck?: (image: Uint8Array) => boolean;
  log?: (e: AgentEvent) => void;
  /** Save every device to the state directory this often (ms). Default 10 s. */
  saveEveryMs?: number;
}

export class Fleet {
  readonly members: FleetMember[] = [];
  private ac: AbortController | undefined;
  private running: Promise<void>[] = [];
  private saver: NodeJS.Timeout | undefined;

  constructor(readonly o: FleetOptions) {}

  add(id: string, device: Device): FleetMember {
    const dir = this.o.stateDir ? join(this.o.stateDir, id) : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    const faults = this.o.faults?.(id);
    const agent = new UpdateAgent({
      deviceId: id,
      server: this.o.server,
      device,
      nvm: new AgentNvm(id, dir ? join(dir, 'agent.json') : undefined),
      radio: getRadio(this.o.radio ?? 'nb-iot'),
      timeScale: this.o.timeScale ?? 1,
      ...(faults ? { faults } : {}),
      ...(this.o.healthCheck ? { healthCheck: this.o.healthCheck } : {}),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
    const m: FleetMember = { id, agent, ...(dir ? { dir } : {}) };
    this.members.push(m);
    return m;
  }

  /** Devices saved in the state directory (a restarted fleet). */
  loadSaved(): number {
    if (!this.o.stateDir || !existsSync(this.o.stateDir)) return 0;
    let n = 0;
    for (const id of readdirSync(this.o.stateDir).sort()) {
      const dir = join(this.o.stateDir, id);
      if (!existsSync(join(dir, 'device.json'))) continue;
      this.add(id, Device.load(dir));
      n++;
    }
    return n;
  }

  save(): void {
    for (const m of this.members) if (m.dir) m.agent.dev.save(m.dir);
  }

  start(): void {
    this.ac = new AbortController();
    const signal = this.ac.signal;
    setMaxListeners(0, signal); // one listener per sleeping agent
    // Stagger the first polls like a fleet powered on over a few seconds.
    this.running = this.members.map(async (m, i) => {
      await new Promise((r) => setTimeout(r, (i * 37) % 500));
      await m.agent.run(signal).catch((e: unknown) => this.o.log?.({ kind: 'backoff', deviceId: m.id, detail: `agent stopped: ${(e as Error).message}` }));
    });
    if (this.o.stateDir) {
      this.saver = setInterval(() => this.save(), this.o.saveEveryMs ?? 10_000);
      this.saver.unref();
    }
  }

  async stop(): Promise<void> {
    this.ac?.abort();
    await Promise.all(this.running);
    if (this.saver) clearInterval(this.saver);
    this.save();
  }

  stats(): AgentStats[] {
    return this.members.map((m) => m.agent.stats());
  }

  /** Per-device view: committed sequence, version, trial, last status, last update outcome. */
  states(): { id: string; profile: string; seq: number; version: string; imageDigest: string; committedSeq: number; lastStatus: string; lastUpdate: string; bricked: boolean }[] {
    return this.members.map((m) => {
      const d = m.agent.dev;
      let info;
      try {
        info = d.running ? d.bootInfo() : undefined;
      } catch {
        info = undefined;
      }
      return {
        id: m.id,
        profile: d.profile.name,
        seq: info ? Number(info.sequenceNumber) : -1,
        version: info?.version?.join('.') ?? '?',
        imageDigest: info?.imageDigest ?? '',
        committedSeq: info ? Number(info.committedSequenceNumber) : -1,
        lastStatus: m.agent.lastStatus,
        lastUpdate: info?.lastUpdate ?? 'none',
        bricked: !info,
      };
    });
  }
}
