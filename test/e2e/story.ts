/**
 * The end-to-end story, shared by `npm run demo` (demo.ts) and the e2e test (e2e.test.ts):
 * vendor keys and releases signed offline with the signing-tools library, a real suit-server on a free
 * port, management API calls over HTTP (anchors, payloads, releases, devices + claim, rollouts), and a
 * simulated fleet whose agents speak the device API.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelease, generateKeyFiles, loadSigningKey, signEnvelopeWith } from '../../signing-tools/index.js';
import { classIdFrom, decodeEnvelope, parseUuid, signAnchorStatement, vendorIdFromDomain, type AnchorSetInput } from '../../manifest/index.js';
import { startServer, type RunningServer } from '../../update-server/index.js';
import { deviceApi } from '../../update-server/device-api/index.js';
import { Fleet, provisionDevice, type FleetOptions } from '../../device-bootloader-sim/agent/index.js';
import { anchorKey, prng } from '../../device-bootloader-sim/index.js';
import { sha256hex } from './util.js';
import { readCorpusPair } from '../support/fixtures.js';

export const VENDOR_DOMAIN = 'acme.example';
export const MODEL = 'blinky-k64f';
export const TENANT = 'acme-owner';
const ADMIN = `demo-admin-${Date.now().toString(36)}-0123456789`;

export interface Release {
  name: string;
  version: string;
  seq: number;
  image: Uint8Array;
  envelope: Uint8Array;
  id: string;
}

export interface World {
  dir: string;
  server: RunningServer;
  admin: string;
  operator: string;
  vendorId: string;
  classId: string;
  anchors: Uint8Array;
  releases: Release[];
  close(): Promise<void>;
}

/** A real firmware pair from the delta corpus (bench/corpus/, see its README). */
export async function corpusPair(name: string): Promise<[Uint8Array, Uint8Array]> {
  return readCorpusPair(name);
}

/** v2 with a self-test bug: the simulated application fails its health check on this build. */
export function badBuild(v2: Uint8Array): Uint8Array {
  const b = Buffer.from(v2);
  const marker = Buffer.from('SUIT-DEMO:SELFTEST=FAIL');
  marker.copy(b, Math.floor(b.length / 2));
  return new Uint8Array(b);
}

export async function api(w: { server: RunningServer }, token: string, method: string, path: string, body?: unknown, type = 'application/json'): Promise<any> {
  const res = await fetch(w.server.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': type } : {}) },
    ...(body !== undefined ? { body: body instanceof Uint8Array ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return json;
}

/** Keys and signed releases (offline), a server, tenant, anchors, payloads and releases uploaded. */
export async function buildWorld(images: { version: string; image: Uint8Array; name: string }[], opts: { pollSeconds?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'suit-demo-'));
  // --- vendor, offline: key files, release descriptions, signatures (signing-tools library) ---
  const kg = await generateKeyFiles(join(dir, 'vendor', 'firmware.pem'), { alg: 'ed25519' });
  const signer = await loadSigningKey(kg.files.privateKey);
  const releases: Release[] = [];
  for (const [i, im] of images.entries()) {
    const file = join(dir, 'vendor', `fw-${im.version}.bin`);
    await writeFile(file, im.image);
    const created = await createRelease(
      { vendor: { domain: VENDOR_DOMAIN, name: 'ACME' }, class: { info: MODEL, name: 'Blinky' }, sequenceNumber: i + 1, version: im.version, components: [{ id: ['00'], image: file, invoke: true }] },
      { baseDir: dir },
    );
    const signed = await signEnvelopeWith(decodeEnvelope(created.envelope), [signer]);
    releases.push({ name: im.name, version: im.version, seq: i + 1, image: im.image, envelope: signed.envelope, id: sha256hex(signed.envelope) });
  }
  const vendorIdBytes = vendorIdFromDomain(VENDOR_DOMAIN);
  const set: AnchorSetInput = { version: 1, threshold: 1, anchorThreshold: 1, keys: [anchorKey(signer.key)], revoked: [] };
  const anchors = signAnchorStatement(set, [signer.key]);

  // --- the fleet operator's server ---
  const server = await startServer({
    dataDir: join(dir, 'server'), port: 0, logger: 'silent', adminToken: ADMIN,
    deviceApi: { pollIntervalSeconds: opts.pollSeconds ?? 1, activePollIntervalSeconds: 1, pollJitter: 0.2, deltaEncoder: 'inline' },
  });
  const w0 = { server };
  const { uuidToString } = await import('../../manifest/index.js');
  const vendorId = uuidToString(vendorIdBytes);
  const classId = uuidToString(classIdFrom(vendorIdBytes, MODEL));
  await api(w0, ADMIN, 'POST', '/api/v1/tenants', { id: TENANT, name: 'ACME owner' });
  const op = await api(w0, ADMIN, 'POST', '/api/v1/tokens', { role: 'operator', tenantId: TENANT, label: 'demo operator' });
  await api(w0, ADMIN, 'POST', `/api/v1/anchors/${vendorId}/keys`, { format: 'pem', key: await readFile(kg.files.publicKey, 'utf8') });
  const world: World = {
    dir, server, admin: ADMIN, operator: op.token as string, vendorId, classId, anchors, releases,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

export async function publish(w: World, r: Release): Promise<void> {
  await api(w, w.admin, 'PUT', `/api/v1/payloads/${sha256hex(r.image)}`, r.image, 'application/octet-stream');
  await api(w, w.admin, 'POST', '/api/v1/releases', r.envelope, 'application/suit-envelope+cose');
}

/** Waits until the server has the delta `from → to` (deltas are made in the background). */
export async function waitForDelta(w: World, from: Release, to: Release, ms = 30_000): Promise<boolean> {
  const t0 = Date.now();
  const svc = deviceApi(w.server.ctx).deltas;
  while (Date.now() - t0 < ms) {
    const d = await svc.offer(sha256hex(to.image), sha256hex(from.image));
    if (d && d.objectKey) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Factory-provision `n` devices on the first release, register them (vendor) and claim them (owner). */
export async function provisionFleet(w: World, fleet: Fleet, n: number, profiles: string[]): Promise<void> {
  const factory = w.releases[0]!;
  const vendorIdBytes = parseUuid(w.vendorId);
  const classIdBytes = parseUuid(w.classId);
  for (let i = 0; i < n; i++) {
    const id = `dev-${String(i + 1).padStart(3, '0')}`;
    const profile = profiles[i % profiles.length]!;
    const { device, publicKeyPem } = await provisionDevice({
      deviceId: id, profile, identity: { vendorId: vendorIdBytes, classId: classIdBytes }, anchors: w.anchors,
      factoryEnvelope: factory.envelope, factoryImage: factory.image,
    });
    const claimCode = `CLAIM-${id}-${Math.random().toString(36).slice(2, 10)}`;
    await api(w, w.admin, 'POST', '/api/v1/devices', {
      id, vendorId: w.vendorId, classId: w.classId, identityKey: publicKeyPem, claimCode, tags: [profile],
      currentSeq: factory.seq, currentDigest: sha256hex(factory.image),
    });
    await api(w, w.operator, 'POST', '/api/v1/devices/claim', { deviceId: id, claimCode });
    fleet.add(id, device);
  }
}

export async function startRollout(w: World, r: Release, name: string, phases: unknown[]): Promise<string> {
  const ro = await api(w, w.operator, 'POST', '/api/v1/rollouts', { name, releaseId: r.id, target: { kind: 'all' }, phases });
  return ro.id as string;
}

export async function rollout(w: World, id: string): Promise<{ state: string; phase: number; counts: Record<string, number>; pauseReason: string | null }> {
  return api(w, w.operator, 'GET', `/api/v1/rollouts/${id}`);
}

export function fleetOptions(w: World, o: Partial<FleetOptions> = {}): FleetOptions {
  return { server: w.server.url, radio: 'nb-iot', timeScale: 1, ...o };
}

// ---------------------------------------------------------------------------------------- the story

export interface StoryOptions {
  devices: number;
  profiles: string[];
  /** Devices whose power is cut once in the middle of their first download. */
  powerCuts: number;
  /** Devices whose link breaks at random points of their downloads. */
  linkCuts: number;
  /** One device that always takes the full image (the delta-vs-full comparison). */
  fullImageDevice?: boolean;
  seed?: number;
  /** Called about 4 times a second with the current picture. */
  progress?: (p: StoryProgress) => void;
  note?: (line: string) => void;
  timeoutMs?: number;
  /** Abort (Ctrl-C in the demo): the story stops at its next step and still cleans up. */
  signal?: AbortSignal;
}

export interface StoryProgress {
  stage: string;
  rolloutState: string;
  phase: number;
  counts: Record<string, number>;
  versions: Record<string, number>;
  devices: number;
}

export interface StorySummary {
  devices: number;
  updated: number;
  reverted: number;
  bricked: number;
  rolloutState: string;
  bytesOnAir: number;
  bytesOnAirFull: number;
  seconds: number;
  versions: Record<string, number>;
  firstRollout: { state: string; counts: Record<string, number> };
  secondRollout: { state: string; counts: Record<string, number>; pauseReason: string | null };
  powerCuts: number;
  linkBreaks: number;
  energyMillijoules: number;
  /** Fleet totals (radio bytes received/sent; delta payload bytes and what full images would have weighed). */
  bytesReceived: number;
  bytesSent: number;
  deltaBytes: number;
  deltaFullEquivalent: number;
  updatesByDelta: number;
  updatesByFull: number;
  perDevice: ReturnType<Fleet['states']>;
  fullDevice?: { id: string; bytesReceived: number };
  deltaDevice?: { id: string; bytesReceived: number };
}

const ACTIVE = ['assigned', 'downloading', 'installed', 'booted'];

export async function runStory(o: StoryOptions): Promise<StorySummary> {
  const t0 = Date.now();
  const note = o.note ?? (() => undefined);
  const rnd = prng(o.seed ?? 1);
  const [v1, v2] = await corpusPair('mbed-blinky-k64f');
  note(`firmware: mbed-blinky-k64f from bench/corpus (v1.0.0 ${v1.length} B → v1.1.0 ${v2.length} B), bad build v1.2.0 fails its self-test`);
  const w = await buildWorld([
    { name: 'v1', version: '1.0.0', image: v1 },
    { name: 'v2', version: '1.1.0', image: v2 },
    { name: 'v3-bad', version: '1.2.0', image: badBuild(v2) },
  ]);
  let fleet: Fleet | undefined;
  try {
    note(`vendor key generated and 3 releases signed offline (suit-sign library); suit-server on ${w.server.url}`);
    const [r1, r2, r3] = w.releases as [Release, Release, Release];
    await publish(w, r1);
    await publish(w, r2);
    const powerCutIds = new Set<string>();
    const linkCutIds = new Set<string>();
    const ids = Array.from({ length: o.devices }, (_, i) => `dev-${String(i + 1).padStart(3, '0')}`);
    for (let i = 0; i < o.powerCuts; i++) powerCutIds.add(ids[(3 + i * 7) % ids.length]!);
    for (let i = 0; i < o.linkCuts; i++) linkCutIds.add(ids[(5 + i * 11) % ids.length]!);
    const fullId = o.fullImageDevice ? ids[ids.length - 1] : undefined;
    const cutDone = new Set<string>();
    fleet = new Fleet(fleetOptions(w, {
      faults: (id) => ({
        ...(powerCutIds.has(id) ? {
          powerCut: ({ kind }) => {
            // Once, in the first download: after some flash operations of the staging.
            if (cutDone.has(id)) return undefined;
            cutDone.add(id);
            return 3 + Math.floor(rnd() * (kind === 'delta' ? 12 : 40));
          },
        } : {}),
        ...(linkCutIds.has(id) ? { linkCut: ({ attempt, offset, size }) => (attempt < 3 && size - offset > 64 ? 1 + Math.floor(rnd() * (size - offset - 1)) : undefined) } : {}),
      }),
      log: (e) => {
        if (e.kind === 'power-cut') note(`⚡ power cut on ${e.deviceId} in the middle of its update; it reboots and resumes`);
      },
    }));
    await provisionFleet(w, fleet, o.devices, o.profiles);
    if (fullId) {
      // This one always downloads the full image: the baseline for delta vs full.
      (fleet.members.find((m) => m.id === fullId)!.agent.o as { payload?: 'auto' | 'full' }).payload = 'full';
    }
    note(`${o.devices} devices provisioned (${o.profiles.join(' + ')}), registered by the vendor and claimed by tenant ${TENANT}`);
    await waitForDelta(w, r1, r2);
    note('server prepared the delta 1.0.0 → 1.1.0');

    const versions = (): Record<string, number> => {
      const v: Record<string, number> = {};
      for (const s of fleet!.states()) v[s.version] = (v[s.version] ?? 0) + 1;
      return v;
    };
    const watch = async (id: string, stage: string, until: (ro: Awaited<ReturnType<typeof rollout>>) => boolean, ms: number) => {
      const end = Date.now() + ms;
      let ro = await rollout(w, id);
      while (!until(ro) && Date.now() < end && !o.signal?.aborted) {
        o.progress?.({ stage, rolloutState: ro.state, phase: ro.phase, counts: ro.counts, versions: versions(), devices: o.devices });
        await new Promise((r) => setTimeout(r, 250));
        ro = await rollout(w, id);
      }
      if (o.signal?.aborted) throw new Error('interrupted');
      o.progress?.({ stage, rolloutState: ro.state, phase: ro.phase, counts: ro.counts, versions: versions(), devices: o.devices });
      return ro;
    };

    fleet.start();
    // Count-based phases: the canary is the first devices to poll, the rest follow once it is good.
    const canary = Math.max(3, Math.round(o.devices * 0.2));
    const ro1Id = await startRollout(w, r2, 'blinky 1.1.0', [
      { name: 'canary', count: canary, success: { confirmedPercent: 100, minDevices: canary }, errorThreshold: { maxFailedPercent: 20, minSample: 5 } },
      { name: 'everyone', count: o.devices, success: { confirmedPercent: 100, minDevices: o.devices - canary }, errorThreshold: { maxFailedPercent: 20, minSample: 10 } },
    ]);
    note(`rollout 1: 1.1.0 in two phases (canary of ${canary} devices, then everyone)`);
    const ro1 = await watch(ro1Id, 'rollout 1.1.0', (ro) => (ro.state === 'completed' && ACTIVE.every((s) => !ro.counts[s])) || ro.state === 'paused' || ro.state === 'cancelled', o.timeoutMs ?? 90_000);
    note(`rollout 1 ${ro1.state}: ${ro1.counts['confirmed']} confirmed`);

    await publish(w, r3);
    await waitForDelta(w, r2, r3);
    const ro2Id = await startRollout(w, r3, 'blinky 1.2.0', [
      { name: 'canary', count: canary, success: { confirmedPercent: 100, minDevices: canary }, errorThreshold: { maxFailed: 3, minSample: 1 } },
      { name: 'everyone', count: o.devices, success: { confirmedPercent: 100, minDevices: o.devices - canary }, errorThreshold: { maxFailedPercent: 10, minSample: 5 } },
    ]);
    note('rollout 2: 1.2.0 (a build whose application fails its self-test), same two phases, pause after 3 failures');
    await watch(ro2Id, 'rollout 1.2.0', (ro) => ro.state !== 'running', o.timeoutMs ?? 60_000);
    // Let devices already on their way finish (they revert too), then stop.
    const ro2 = await watch(ro2Id, 'rollout 1.2.0', (ro) => ACTIVE.every((s) => !ro.counts[s]), 20_000);
    note(`rollout 2 ${ro2.state}${ro2.pauseReason ? ` (${ro2.pauseReason})` : ''}: ${ro2.counts['reverted']} reverted`);
    await fleet.stop();

    const states = fleet.states();
    const stats = fleet.stats();
    const sum = (f: (s: (typeof stats)[number]) => number) => stats.reduce((a, s) => a + f(s), 0);
    const bytesOnAir = sum((s) => s.bytesReceived + s.bytesSent);
    const bytesOnAirFull = bytesOnAir - sum((s) => s.deltaBytes) + sum((s) => s.deltaFullEquivalent);
    const fullIdx = fullId ? fleet.members.findIndex((m) => m.id === fullId) : -1;
    const deltaIdx = fleet.members.findIndex((m, i) => i !== fullIdx && !powerCutIds.has(m.id) && !linkCutIds.has(m.id) && m.agent.dev.profile.name === fleet!.members[fullIdx]?.agent.dev.profile.name);
    return {
      devices: o.devices,
      updated: states.filter((s) => s.seq === r2.seq).length,
      reverted: states.filter((s) => s.lastUpdate === 'reverted').length,
      bricked: states.filter((s) => s.bricked).length,
      rolloutState: ro2.state,
      bytesOnAir,
      bytesOnAirFull,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      versions: versions(),
      firstRollout: { state: ro1.state, counts: ro1.counts },
      secondRollout: { state: ro2.state, counts: ro2.counts, pauseReason: ro2.pauseReason },
      powerCuts: sum((s) => s.powerCuts),
      linkBreaks: sum((s) => s.linkBreaks),
      energyMillijoules: Math.round(sum((s) => s.energyMillijoules)),
      bytesReceived: sum((s) => s.bytesReceived),
      bytesSent: sum((s) => s.bytesSent),
      deltaBytes: sum((s) => s.deltaBytes),
      deltaFullEquivalent: sum((s) => s.deltaFullEquivalent),
      updatesByDelta: sum((s) => s.updatesByDelta),
      updatesByFull: sum((s) => s.updatesByFull),
      perDevice: states,
      ...(fullIdx >= 0 ? { fullDevice: { id: fullId!, bytesReceived: stats[fullIdx]!.bytesReceived } } : {}),
      ...(deltaIdx >= 0 ? { deltaDevice: { id: fleet.members[deltaIdx]!.id, bytesReceived: stats[deltaIdx]!.bytesReceived } } : {}),
    };
  } finally {
    if (fleet) await fleet.stop().catch(() => undefined);
    await w.close();
  }
}
