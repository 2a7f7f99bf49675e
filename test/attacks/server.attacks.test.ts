/**
 * Attacks against and through the real fleet server (suit-server on 127.0.0.1, real manifest verifier,
 * SQLite + files): forged/replayed/misdirected device reports, a malicious operator or release manager,
 * tenant isolation, and the server's own stored state tampered with directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  SoftwareSigningKey,
  decodeCbor,
  decodeEnvelope,
  encodeCbor,
  encodeEnvelope,
  exportPublicPem,
  fromHex,
  generateKey,
  signReport,
  uuidToString,
  type CborValue,
  type SuitReport,
} from '../../manifest/index.js';
import { startServer, type RunningServer } from '../../update-server/index.js';
import { deviceApi, inProcessEncoder } from '../../update-server/device-api/index.js';
import type { Device } from '../../device-bootloader-sim/index.js';
import { plain as plainBody, toCbor } from '../../device-bootloader-sim/agent/index.js';
import { agentFor, deviceFacts, makeFieldDevice, makeLab, sha256hex, type Lab } from './lab.js';

ed.hashes.sha512 ??= sha512;

const ADMIN = 'attack-admin-token-0123456789abcdef';
let dir: string;
let srv: RunningServer;
let lab: Lab;
let vendorId: string;
let classId: string;
let env: Uint8Array[]; // releases 1..3 (index 0 = seq 1)
let relId: string[];
let opA: string, opB: string, rmA: string;
const devices = new Map<string, Device>();

// ---------------------------------------------------------------------------------- HTTP helpers

async function api(token: string, method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(srv.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': type } : {}) },
    ...(body !== undefined ? { body: body instanceof Uint8Array ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const code = (r: { body: any }): string | undefined => r.body?.error?.code;


const plain = (v: CborValue): any => plainBody(v);

/** A device API call in CBOR, as a device (or an attacker speaking for one) makes it. */
async function dcall(method: 'GET' | 'POST', path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(srv.url + path, {
    method,
    headers: { Accept: 'application/cbor', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/cbor' } : {}) },
    ...(body !== undefined ? { body: encodeCbor(toCbor(body)) } : {}),
  });
  const buf = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body: buf.length && (res.headers.get('content-type') ?? '').includes('cbor') ? plain(decodeCbor(buf, { maxBytes: 1 << 20 })) : null };
}

/** Device authentication with the identity key (`secret`): challenge → token. */
async function enroll(id: string, secret: Uint8Array): Promise<{ status: number; token?: string; code?: string }> {
  const c = await dcall('POST', '/device/v1/auth/challenge', undefined, { deviceId: id });
  const sig = ed.sign(encodeCbor(['suit-device-auth-v1', id, c.body.challenge]), secret);
  const t = await dcall('POST', '/device/v1/auth/token', undefined, { deviceId: id, challenge: c.body.challenge, signature: sig });
  return { status: t.status, token: t.body?.token, code: t.body?.error?.code };
}

function deviceKey(d: Device): SoftwareSigningKey {
  const secret = d.identityKey()!;
  return new SoftwareSigningKey('OKP', secret, ed.getPublicKey(secret), -8);
}

/** A SUIT_Report like the agent's: status word signed as a system-property claim. */
function report(status: string, failureByte?: number): SuitReport {
  return {
    reference: { uri: 'urn:suit-fleet:release:x', digest: { alg: -16, bytes: new Uint8Array(32) } },
    records: [],
    result: failureByte === undefined ? true : { code: failureByte, reason: 11, record: { manifestId: [], section: 9, offset: 0, componentIndex: 0, properties: new Map() } },
    systemProperties: [{ componentId: [new TextEncoder().encode('suitfleet')], properties: new Map([[-70001, status]]) }],
  };
}

async function poll(token: string, d: Device): Promise<any> {
  const i = d.bootInfo();
  const r = await dcall('GET', `/device/v1/poll?seq=${i.committedSequenceNumber}&digest=${i.imageDigest}&class=${classId}`, token);
  expect(r.status).toBe(200);
  return r.body;
}

async function provision(id: string, tenantId: string | undefined): Promise<Device> {
  const d = await makeFieldDevice(lab, { id });
  const pem = exportPublicPem(new SoftwareSigningKey('OKP', d.identityKey()!, ed.getPublicKey(d.identityKey()!), -8));
  const r = await api(ADMIN, 'POST', '/api/v1/devices', {
    id, vendorId, classId, identityKey: pem, ...(tenantId ? { tenantId } : {}), currentSeq: 1, currentDigest: sha256hex(lab.images[0]!),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  devices.set(id, d);
  return d;
}

async function rollout(token: string, release: number, deviceIds: string[]): Promise<{ status: number; body: any }> {
  return api(token, 'POST', '/api/v1/rollouts', { name: `ro-${Math.random().toString(36).slice(2, 8)}`, releaseId: relId[release - 1], target: { kind: 'devices', deviceIds } });
}

// ---------------------------------------------------------------------------------------- world

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'suit-attacks-'));
  lab = makeLab(8 * 1024);
  vendorId = uuidToString(lab.vendor.identity.vendorId);
  classId = uuidToString(lab.vendor.identity.classId);
  env = lab.images.map((image, i) => lab.release({ seq: i + 1, image }));
  relId = env.map(sha256hex);
  srv = await startServer({ dataDir: join(dir, 'server'), port: 0, logger: 'silent', adminToken: ADMIN });
  const dapi = deviceApi(srv.ctx);
  dapi.deltas.opts.encoder = inProcessEncoder;
  Object.assign(dapi.opts, { pollIntervalSeconds: 1, activePollIntervalSeconds: 1, deviceCacheTtlMs: 0 });
  for (const t of ['tenant-a', 'tenant-b']) expect((await api(ADMIN, 'POST', '/api/v1/tenants', { id: t, name: t })).status).toBe(201);
  opA = (await api(ADMIN, 'POST', '/api/v1/tokens', { role: 'operator', tenantId: 'tenant-a', label: 'op a' })).body.token;
  opB = (await api(ADMIN, 'POST', '/api/v1/tokens', { role: 'operator', tenantId: 'tenant-b', label: 'op b' })).body.token;
  rmA = (await api(ADMIN, 'POST', '/api/v1/tokens', { role: 'release-manager', tenantId: 'tenant-a', label: 'rm a' })).body.token;
  expect((await api(ADMIN, 'POST', `/api/v1/anchors/${vendorId}/keys`, { format: 'pem', key: exportPublicPem(lab.vendor.key) })).status).toBe(201);
  for (const [i, image] of lab.images.entries()) {
    expect((await api(ADMIN, 'PUT', `/api/v1/payloads/${sha256hex(image)}`, image, 'application/octet-stream')).status).toBeLessThan(300);
    const r = await api(ADMIN, 'POST', '/api/v1/releases', env[i]!, 'application/suit-envelope+cose');
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  await provision('dev-a', 'tenant-a');
  await provision('dev-a2', 'tenant-a');
  await provision('dev-b', 'tenant-b');
});

afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

// =====================================================================================================
describe('THREAT.UPD.UNAPPROVED / REQ.SEC.RIGHTS — a malicious operator cannot publish what the vendor did not sign', () => {
  it('an operator token cannot upload a release at all → 403 FORBIDDEN', async () => {
    const r = await api(opA, 'POST', '/api/v1/releases', lab.release({ seq: 9, image: lab.images[2]! }), 'application/suit-envelope+cose');
    expect(r.status).toBe(403);
    expect(code(r)).toBe('FORBIDDEN');
  });

  it('a release manager uploading a release signed by its own key (not a vendor anchor) → KEY_UNTRUSTED', async () => {
    const forged = lab.release({ seq: 9, image: lab.images[2]!, keys: [generateKey(-8)] });
    const r = await api(rmA, 'POST', '/api/v1/releases', forged, 'application/suit-envelope+cose');
    expect(r.status).toBe(422);
    expect(code(r)).toBe('KEY_UNTRUSTED');
  });

  it('a release manager uploading a vendor envelope with a byte changed → MANIFEST_DIGEST_MISMATCH', async () => {
    const bad = lab.release({ seq: 9, image: lab.images[2]! });
    const at = Buffer.from(bad).indexOf(Buffer.from(fromHex(sha256hex(lab.images[2]!))));
    bad[at + 1]! ^= 1;
    const r = await api(rmA, 'POST', '/api/v1/releases', bad, 'application/suit-envelope+cose');
    expect(code(r)).toBe('MANIFEST_DIGEST_MISMATCH');
  });

  it('a release manager uploading a vendor manifest with its signature stripped → AUTH_MISSING', async () => {
    const stripped = encodeEnvelope({ ...decodeEnvelope(lab.release({ seq: 9, image: lab.images[2]! })), authBlocks: [] });
    const r = await api(rmA, 'POST', '/api/v1/releases', stripped, 'application/suit-envelope+cose');
    expect(code(r)).toBe('AUTH_MISSING');
  });

  it('a release manager or operator cannot add their own key to the vendor anchors → 403 FORBIDDEN', async () => {
    const pem = exportPublicPem(generateKey(-8));
    for (const t of [rmA, opA]) {
      const r = await api(t, 'POST', `/api/v1/anchors/${vendorId}/keys`, { format: 'pem', key: pem });
      expect(r.status).toBe(403);
      expect(code(r)).toBe('FORBIDDEN');
    }
  });
});

// =====================================================================================================
describe('tenant isolation — a tenant can neither see nor target another tenant\'s devices', () => {
  it("tenant B cannot read tenant A's device or its reports → 404 NOT_FOUND (no existence oracle)", async () => {
    for (const p of ['/api/v1/devices/dev-a', '/api/v1/devices/dev-a/reports']) {
      const r = await api(opB, 'GET', p);
      expect(r.status).toBe(404);
      expect(code(r)).toBe('NOT_FOUND');
    }
    const list = await api(opB, 'GET', '/api/v1/devices');
    expect(list.body.items.map((d: { id: string }) => d.id)).toEqual(['dev-b']);
  });

  it("tenant B cannot tag or claim tenant A's device → NOT_FOUND", async () => {
    expect(code(await api(opB, 'PUT', '/api/v1/devices/dev-a/tags', { tags: ['pwned'] }))).toBe('NOT_FOUND');
    expect(code(await api(opB, 'POST', '/api/v1/devices/claim', { deviceId: 'dev-a', claimCode: 'guess-123456' }))).toBe('NOT_FOUND');
  });

  it("a rollout by tenant B naming tenant A's device never reaches it", async () => {
    const r = await rollout(opB, 2, ['dev-a']);
    expect(r.status).toBe(201);
    const d = devices.get('dev-a')!;
    const t = await enroll('dev-a', d.identityKey()!);
    expect((await poll(t.token!, d)).status).toBe('none');
    await api(opB, 'POST', `/api/v1/rollouts/${r.body.id}/cancel`);
  });
});

// =====================================================================================================
describe('device identity and REQ.SEC.REPORTING — reports the server cannot be fooled by', () => {
  let tokA: string;
  let a1: { id: string; nonce: Uint8Array };
  let captured: Uint8Array;

  beforeAll(async () => {
    const d = devices.get('dev-a')!;
    tokA = (await enroll('dev-a', d.identityKey()!)).token!;
    expect((await rollout(opA, 2, ['dev-a'])).status).toBe(201);
    const p = await poll(tokA, d);
    expect(p.status).toBe('update');
    a1 = { id: p.assignment.id, nonce: p.assignment.nonce };
    captured = signReport(report('downloading'), deviceKey(d), a1.nonce);
  });

  it('a device token for a challenge signed by the wrong key → CHALLENGE_INVALID', async () => {
    const r = await enroll('dev-a', ed.utils.randomSecretKey());
    expect(r.status).toBe(401);
    expect(r.code).toBe('CHALLENGE_INVALID');
  });

  it('a forged report signed by another key (the server forging, or an attacker) → KEY_UNTRUSTED', async () => {
    const forged = signReport(report('confirmed'), generateKey(-8), a1.nonce);
    const r = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'confirmed', report: forged });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('KEY_UNTRUSTED');
  });

  it("a genuine report with one signature byte changed → SIGNATURE_INVALID", async () => {
    const bad = captured.slice();
    bad[bad.length - 2]! ^= 0x40;
    const r = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'downloading', report: bad });
    expect(r.body.error.code).toBe('SIGNATURE_INVALID');
  });

  it('a report bound to another nonce (stale / made up) → CHALLENGE_INVALID', async () => {
    const stale = signReport(report('confirmed'), deviceKey(devices.get('dev-a')!), new Uint8Array(16).fill(1));
    const r = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'confirmed', report: stale });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('CHALLENGE_INVALID');
  });

  it("a captured 'downloading' report replayed as 'confirmed' (unsigned status word swapped) → REPORT_MALFORMED", async () => {
    const r = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'confirmed', report: captured });
    expect(r.body.error.code).toBe('REPORT_MALFORMED');
  });

  it("another device posting to dev-a's assignment (even with dev-a's captured report) → NOT_FOUND", async () => {
    const d2 = devices.get('dev-a2')!;
    const t2 = (await enroll('dev-a2', d2.identityKey()!)).token!;
    const r = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, t2, { status: 'downloading', report: captured });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });

  it('a captured report replayed into a newer assignment (old nonce) → CHALLENGE_INVALID; into the superseded one → GONE', async () => {
    const d = devices.get('dev-a')!;
    expect((await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'downloading', report: captured })).status).toBe(200);
    expect((await rollout(opA, 3, ['dev-a'])).status).toBe(201);
    const p = await poll(tokA, d);
    expect(p.status).toBe('update');
    expect(p.assignment.id).not.toBe(a1.id);
    const r = await dcall('POST', `/device/v1/assignments/${p.assignment.id}/report`, tokA, { status: 'downloading', report: captured });
    expect(r.body.error.code).toBe('CHALLENGE_INVALID');
    const old = await dcall('POST', `/device/v1/assignments/${a1.id}/report`, tokA, { status: 'downloading', report: captured });
    expect(old.status).toBe(410);
    expect(old.body.error.code).toBe('GONE');
  });
});

describe('REQ.SEC.REPORTING — status word without the signed claim', () => {
  // Finding F5 (docs/threat-model.md), fixed: a report that omitted the signed status claim signed only
  // "success", so whoever held the device's bearer token could post a captured 'downloading' report as
  // 'confirmed'. The server now requires the claim (device-api/reports.ts reconcileStatus).
  it("a signed success report without the status claim, posted as 'confirmed' → REPORT_MALFORMED", async () => {
    const d = devices.get('dev-a2')!;
    const tok = (await enroll('dev-a2', d.identityKey()!)).token!;
    expect((await rollout(opA, 2, ['dev-a2'])).status).toBe(201);
    const p = await poll(tok, d);
    expect(p.status).toBe('update');
    const { systemProperties: _drop, ...noClaim } = report('downloading');
    const signed = signReport(noClaim as SuitReport, deviceKey(d), p.assignment.nonce);
    const r = await dcall('POST', `/device/v1/assignments/${p.assignment.id}/report`, tok, { status: 'confirmed', report: signed });
    expect(r.body?.error?.code).toBe('REPORT_MALFORMED');
  });
});

// =====================================================================================================
describe('the server\'s own state tampered with directly (storage compromise)', () => {
  it('payload object replaced on disk → the device refuses it (PAYLOAD_DIGEST_MISMATCH) and the server records the signed failure', async () => {
    const d = devices.get('dev-b')!;
    const before = deviceFacts(d);
    // The attacker rewrites release 2's stored payload with other bytes of the same length.
    const want = sha256hex(lab.images[1]!);
    const files: string[] = [];
    const walk = async (p: string): Promise<void> => {
      for (const e of await readdir(p, { withFileTypes: true })) {
        const f = join(p, e.name);
        if (e.isDirectory()) await walk(f);
        else if (f.includes(want) && (await stat(f)).size === lab.images[1]!.length) files.push(f);
      }
    };
    await walk(join(dir, 'server', 'objects'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) await writeFile(f, lab.images[2]!);
    const ro = await rollout(opB, 2, ['dev-b']);
    expect(ro.status).toBe(201);
    const agent = agentFor(d, srv.url, { deviceId: 'dev-b', payload: 'full' });
    await agent.cycle();
    expect(agent.lastStatus).toBe('failed');
    expect(agent.lastCode).toBe('PAYLOAD_DIGEST_MISMATCH');
    await d.reboot();
    expect(deviceFacts(d)).toEqual(before);
    const view = await api(opB, 'GET', `/api/v1/rollouts/${ro.body.id}`);
    expect(view.body.counts['failed']).toBe(1);
    const reps = await api(opB, 'GET', '/api/v1/devices/dev-b/reports');
    expect(JSON.stringify(reps.body.items[0])).toContain('PAYLOAD_DIGEST_MISMATCH');
  });
});
