/**
 * Year 10+: the owner's own suit-server (fresh data dir) and the device's real update agent. The owner
 * registers its public keys (never a private one), the device (identity key PEM, claim code), uploads
 * payload + signed release, starts a rollout; the agent polls, downloads, stages, reboots, confirms
 * and reports — all over HTTP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { encodeCoseKey, toHex, uuidToString, type SigningKey } from '../../manifest/index.js';
import { startServer, type RunningServer } from '../../update-server/index.js';
import type { Device } from '../../device-bootloader-sim/index.js';
import { UpdateAgent } from '../../device-bootloader-sim/agent/index.js';
import type { Release } from './world.js';

const ADMIN = 'longevity-admin-token-0123456789abcdef';
const TENANT = 'owner';
const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface OwnerServer {
  server: RunningServer;
  dir: string;
  operator: string;
  api(method: string, path: string, body?: unknown, type?: string): Promise<{ status: number; json: any }>;
  enroll(id: string, dev: Device, publicKeyPem: string): Promise<void>;
  publish(r: Release): Promise<void>;
  deliver(id: string, dev: Device, r: Release): Promise<{ cycles: number }>;
  close(): Promise<void>;
}

export async function startOwnerServer(vendorId: Uint8Array, classId: Uint8Array, keys: SigningKey[], threshold: number): Promise<OwnerServer> {
  const dir = await mkdtemp(join(tmpdir(), 'suit-longevity-'));
  const server = await startServer({
    dataDir: join(dir, 'owner-server'), port: 0, logger: 'silent', adminToken: ADMIN,
    deviceApi: { pollIntervalSeconds: 1, activePollIntervalSeconds: 1, pollJitter: 0, deltaEncoder: 'inline' },
  });
  const api = async (method: string, path: string, body?: unknown, type = 'application/json', token = ADMIN) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': type } : {}) },
      ...(body !== undefined ? { body: body instanceof Uint8Array ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const ok = async (method: string, path: string, body?: unknown, type?: string, token?: string) => {
    const r = await api(method, path, body, type, token);
    if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
    return r.json;
  };
  const agents = new Map<string, UpdateAgent>();
  const v = uuidToString(vendorId);
  const c = uuidToString(classId);
  await ok('POST', '/api/v1/tenants', { id: TENANT, name: 'Owner' });
  const op = await ok('POST', '/api/v1/tokens', { role: 'operator', tenantId: TENANT, label: 'owner operator' });
  for (const k of keys) await ok('POST', `/api/v1/anchors/${v}/keys`, { format: 'cose', key: toHex(encodeCoseKey(k.publicKey())) });
  await ok('PUT', `/api/v1/anchors/${v}/policy`, { threshold });
  const publish = async (r: Release): Promise<void> => {
    await ok('PUT', `/api/v1/payloads/${sha256hex(r.image)}`, r.image, 'application/octet-stream');
    await ok('POST', '/api/v1/releases', r.envelope, 'application/suit-envelope+cose');
  };
  return {
    server, dir, operator: op.token as string, publish,
    api: (m, p, b, t) => api(m, p, b, t),
    async enroll(id, dev, publicKeyPem) {
      const info = dev.bootInfo();
      const claimCode = `CLAIM-${id}-longevity`;
      await ok('POST', '/api/v1/devices', { id, vendorId: v, classId: c, identityKey: publicKeyPem, claimCode, currentSeq: Number(info.committedSequenceNumber), currentDigest: info.imageDigest });
      await ok('POST', '/api/v1/devices/claim', { deviceId: id, claimCode }, undefined, op.token as string);
    },
    async deliver(id, dev, r) {
      await publish(r);
      await ok('POST', '/api/v1/rollouts', { name: `q${r.quarter}`, releaseId: sha256hex(r.envelope), target: { kind: 'all' }, phases: [{ percent: 100 }] }, undefined, op.token as string);
      let agent = agents.get(id);
      if (!agent) agents.set(id, (agent = new UpdateAgent({ deviceId: id, server: server.url, device: dev, timeScale: 0 })));
      let cycles = 0;
      while (dev.bootInfo().committedSequenceNumber !== r.seq && cycles < 12) {
        await agent.cycle();
        cycles++;
      }
      return { cycles };
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
