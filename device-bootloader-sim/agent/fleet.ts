/**
 * A simulated fleet: N devices, each a Device (flash, OTP, bootloader) with an UpdateAgent, run
 * concurrently in one process against a server. With a state directory every device's flash, OTP,
 * fuses and agent record are saved there as one atomic snapshot at each agent record write and on
 * stop, so a fleet survives a restart — even a kill -9 — exactly like a power cut: the record never
 * claims more than the saved flash holds (they are the same snapshot, as on a real device where the
 * record lives in the same flash).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { createPublicKey, randomBytes } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { toHex } from '../../manifest/index.js';
import { Device } from '../device.js';
import type { EraseValue } from '../flash.js';
import { UpdateAgent, type AgentEvent, type AgentFaults, type AgentStats } from './agent.js';
import { AgentNvm, type AgentNvmData } from './nvm.js';
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

// ------------------------------------------------------------------ snapshots

/**
 * One device's durable state in `dir`: `dir/state/` (device.json, flash.bin, agent.json) replaced as a
 * whole. Written into `dir/.next/`, then `state` → `state.old`, `.next` → `state`, `state.old` removed:
 * a kill at any point leaves either the previous or the new snapshot (`state.old` when killed between
 * the two renames), never a mix. (No fsync: this survives the process dying, not the host.)
 */
export function saveSnapshot(dir: string, device: Device, nvm: AgentNvmData | undefined): void {
  const next = join(dir, '.next');
  const cur = join(dir, 'state');
  const old = join(dir, 'state.old');
  rmSync(next, { recursive: true, force: true });
  device.save(next);
  if (nvm) writeFileSync(join(next, 'agent.json'), JSON.stringify(nvm));
  if (existsSync(cur)) {
    rmSync(old, { recursive: true, force: true });
    renameSync(cur, old);
  }
  renameSync(next, cur);
  rmSync(old, { recursive: true, force: true });
}

/** The snapshot directory to load from `dir` (undefined: none). Older layouts kept files in `dir` itself. */
export function snapshotDir(dir: string): string | undefined {
  for (const d of [join(dir, 'state'), join(dir, 'state.old'), dir]) if (existsSync(join(d, 'device.json')) && existsSync(join(d, 'flash.bin'))) return d;
  return undefined;
}

export function loadSnapshot(dir: string): { device: Device; nvm: AgentNvmData | undefined } | undefined {
  const d = snapshotDir(dir);
  if (!d) return undefined;
  const f = join(d, 'agent.json');
  return { device: Device.load(d), nvm: existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as AgentNvmData) : undefined };
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
  /** Radio pacing: downloads take the radio profile's time on air (× timeScale). */
  airtime?: boolean;
  /** 'full': every device downloads full images (no deltas). */
  payload?: 'auto' | 'full';
}

export class Fleet {
  readonly members: FleetMember[] = [];
  private ac: AbortController | undefined;
  private running: Promise<void>[] = [];

  constructor(readonly o: FleetOptions) {}

  add(id: string, device: Device, saved?: AgentNvmData): FleetMember {
    const dir = this.o.stateDir ? join(this.o.stateDir, id) : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    const faults = this.o.faults?.(id);
    // With a state directory every record write is a snapshot of flash + record (see saveSnapshot).
    const nvm = new AgentNvm(id, { ...(saved ? { data: saved } : {}), ...(dir ? { persist: (data: AgentNvmData) => saveSnapshot(dir, device, data) } : {}) });
    if (dir && !snapshotDir(dir)) saveSnapshot(dir, device, nvm.data);
    const agent = new UpdateAgent({
      deviceId: id,
      server: this.o.server,
      device,
      nvm,
      radio: getRadio(this.o.radio ?? 'nb-iot'),
      timeScale: this.o.timeScale ?? 1,
      ...(this.o.airtime ? { airtime: true } : {}),
      ...(this.o.payload ? { payload: this.o.payload } : {}),
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
      const snap = loadSnapshot(join(this.o.stateDir, id));
      if (!snap) continue;
      this.add(id, snap.device, snap.nvm);
      n++;
    }
    return n;
  }

  /** Snapshot every device (flash + its last committed record). */
  save(): void {
    for (const m of this.members) if (m.dir) saveSnapshot(m.dir, m.agent.dev, m.agent.nvm.data);
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
    // No periodic flash save: a snapshot between two record writes could hold device state the
    // record does not know about yet (e.g. a swap before its step is written).
  }

  async stop(): Promise<void> {
    this.ac?.abort();
    await Promise.all(this.running);
    this.running = [];
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
