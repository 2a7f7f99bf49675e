/**
 * The end-to-end story, shared by `npm run demo` (demo.ts) and the e2e test (e2e.test.ts):
 * vendor keys and releases signed offline with the signing-tools library, a real suit-server on a free
 * port, management API calls over HTTP (anchors, payloads, releases, devices + claim, rollouts), and a
 * simulated fleet whose agents speak the device API.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelease } from '../../signing-tools/create.js';
import { generateKeyFiles } from '../../signing-tools/key-files.js';
import { loadSigningKey } from '../../signing-tools/keys.js';
import { signEnvelopeWith } from '../../signing-tools/sign.js';
import { classIdFrom, decodeEnvelope, parseUuid, signAnchorStatement, vendorIdFromDomain, type AnchorSetInput } from '../../manifest/index.js';
import { startServer, type RunningServer } from '../../update-server/index.js';
import { deviceApi, inProcessEncoder } from '../../update-server/device-api/index.js';
import { Fleet, provisionDevice, type FleetOptions } from '../../device-bootloader-sim/agent/index.js';
import { anchorKey } from '../../device-bootloader-sim/fixtures.js';
import { sha256hex } from './util.js';

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

/** Firmware from ../shared/corpus (the repo's sibling; CI clones shared/ beside it). */
export async function corpusPair(name: string): Promise<[Uint8Array, Uint8Array]> {
  const corpus = new URL('../../../shared/corpus/', import.meta.url);
  return [new Uint8Array(await readFile(new URL(`${name}-from.bin`, corpus))), new Uint8Array(await readFile(new URL(`${name}-to.bin`, corpus)))];
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
  const server = await startServer({ dataDir: join(dir, 'server'), port: 0, logger: 'silent', adminToken: ADMIN });
  const dapi = deviceApi(server.ctx);
  dapi.deltas.opts.encoder = inProcessEncoder;
  Object.assign(dapi.opts, { pollIntervalSeconds: opts.pollSeconds ?? 1, activePollIntervalSeconds: 1, jitter: 0.2 });
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
    const { device, publicKeyHex } = await provisionDevice({
      deviceId: id, profile, identity: { vendorId: vendorIdBytes, classId: classIdBytes }, anchors: w.anchors,
      factoryEnvelope: factory.envelope, factoryImage: factory.image,
    });
    const claimCode = `CLAIM-${id}-${Math.random().toString(36).slice(2, 10)}`;
    await api(w, w.admin, 'POST', '/api/v1/devices', {
      id, vendorId: w.vendorId, classId: w.classId, identityKey: publicKeyHex, claimCode, tags: [profile],
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
