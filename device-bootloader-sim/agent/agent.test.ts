/**
 * UpdateAgent behaviours against a scripted device API (a small CBOR HTTP server in this file, so each
 * answer — errors, Retry-After, kill switch, bad releases, broken patches — is under the test's control):
 * back-off and bounded retries, the kill switch, the pre-check before any payload byte, delta choice
 * and full-image fallback, signed reports at every step, and the radio energy model.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ERRORS, classIdFrom, decodeCbor, encodeCbor, parsePublicKey, toHex, vendorIdFromDomain, verifyReport,
  type CborValue, type SuitReport,
} from '../../manifest/index.js';
import { encodeDelta } from '../delta-adapter.js';
import { makeDevice, makeImage, makeRelease, makeVendor, type Vendor } from '../fixtures.js';
import { UpdateAgent, SELFTEST_FAIL_MARKER, type AgentEvent } from './agent.js';
import { plain as plainBody, toCbor } from './transport.js';

const plain = (v: CborValue): any => plainBody(v);
import { RADIOS, energyPerByte, radioCost } from './radio.js';
import * as ed from '@noble/ed25519';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');


interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

interface Received {
  status: string;
  code?: string;
  report: SuitReport;
  signedStatus: unknown;
}

/** A scripted device API v1. */
class FakeApi {
  server!: Server;
  url = '';
  poll: () => Answer = () => ({ body: { status: 'none', pollAfter: 1 }, headers: { 'x-poll-after': '1' } });
  objects = new Map<string, Uint8Array>();
  requests: { method: string; path: string; query: string }[] = [];
  payloadBytes = 0;
  reports: Received[] = [];
  nonces = new Map<string, Uint8Array>();
  devicePub!: Uint8Array;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  private send(res: ServerResponse, a: Answer): void {
    const body = a.body ? encodeCbor(toCbor(a.body)) : undefined;
    res.writeHead(a.status ?? 200, { ...(body ? { 'content-type': 'application/cbor' } : {}), ...a.headers });
    res.end(body ? Buffer.from(body) : undefined);
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const body = raw.length ? plain(decodeCbor(new Uint8Array(raw))) : undefined;
    const [path = '', query = ''] = (req.url ?? '').split('?');
    this.requests.push({ method: req.method ?? '', path, query });
    if (path === '/device/v1/auth/challenge') return this.send(res, { body: { challenge: new Uint8Array(randomBytes(32)) } });
    if (path === '/device/v1/auth/token') return this.send(res, { body: { token: 'tok' } });
    if (path === '/device/v1/poll') return this.send(res, this.poll());
    const obj = this.objects.get(path);
    if (obj) {
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      const from = m ? Number(m[1]) : 0;
      this.payloadBytes += obj.length - from;
      res.writeHead(m ? 206 : 200, { 'content-type': 'application/octet-stream', 'content-length': String(obj.length - from) });
      return void res.end(Buffer.from(obj.subarray(from)));
    }
    const rep = /^\/device\/v1\/assignments\/([^/]+)\/report$/.exec(path);
    if (rep) {
      const nonce = this.nonces.get(rep[1]!)!;
      const key = parsePublicKey(new Uint8Array(Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), this.devicePub])), { alg: -8 });
      const report = verifyReport(body.report, key, nonce); // throws on a bad signature or nonce
      const signedStatus = report.systemProperties?.[0]?.properties.get(-70001);
      this.reports.push({ status: body.status, ...(body.code ? { code: body.code } : {}), report, signedStatus });
      return this.send(res, { body: { ok: true } });
    }
    this.send(res, { status: 404, body: { error: { code: 'NOT_FOUND' } } });
  }

  /** An update answer for `envelope`; payload objects registered under /obj/. */
  offer(id: string, seq: number | bigint, envelope: Uint8Array, payloads: { kind: 'full' | 'delta'; bytes: Uint8Array; to: string; from?: string }[]): Answer {
    const nonce = this.nonces.get(id) ?? new Uint8Array(randomBytes(16));
    this.nonces.set(id, nonce);
    return {
      headers: { 'x-poll-after': '1' },
      body: {
        status: 'update', pollAfter: 1,
        assignment: { id, nonce, state: 'assigned', reportUrl: `/device/v1/assignments/${id}/report` },
        release: { id: `rel-${seq}`, sequence: seq, version: null },
        envelope, envelopeUrl: `/device/v1/envelopes/${id}`, envelopeSize: envelope.length, envelopeSha256: sha(envelope),
        payloads: payloads.map((p, i) => {
          const url = `/obj/${id}-${i}-${p.kind}`;
          this.objects.set(url, p.bytes);
          return { component: 0, kind: p.kind, sha256: sha(p.bytes), size: p.bytes.length, url, ...(p.from ? { from: p.from, to: p.to } : {}) };
        }),
      },
    };
  }
  payloadRequests(): number {
    return this.requests.filter((r) => r.path.startsWith('/obj/')).length;
  }
}

interface Rig {
  api: FakeApi;
  vendor: Vendor;
  agent: UpdateAgent;
  events: AgentEvent[];
  v1: Uint8Array;
  v2: Uint8Array;
}

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function rig(o: { radio?: string; profile?: string; maxRetries?: number } = {}): Promise<Rig> {
  api = new FakeApi();
  await api.start();
  const vendor = makeVendor();
  const secret = new Uint8Array(randomBytes(32));
  api.devicePub = ed.getPublicKey(secret);
  const v1 = makeImage(20_000, 1);
  const v2 = makeImage(21_000, 2, v1);
  const dev = await makeDevice(vendor, o.profile ?? 'nrf52840', 0xff, { image: v1, seq: 1 }, { identityKey: secret });
  const events: AgentEvent[] = [];
  const agent = new UpdateAgent({
    deviceId: 'dev-1', server: api.url, device: dev, radio: RADIOS[o.radio ?? 'nb-iot']!, timeScale: 0.001,
    ...(o.maxRetries ? { maxRetries: o.maxRetries } : {}),
    log: (e) => events.push(e),
  });
  return { api, vendor, agent, events, v1, v2 };
}

const backoffs = (events: AgentEvent[]) => events.filter((e) => e.kind === 'backoff').map((e) => Number(/→ ([\d.]+) s/.exec((e as { detail?: string }).detail ?? '')?.[1]));

async function runUntil(agent: UpdateAgent, done: () => boolean, ms = 10_000): Promise<void> {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = agent.run(ac.signal);
  while (!done() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await p;
}

describe('UpdateAgent', () => {
  it('backs off exponentially on errors, capped at the poll interval, and returns to the idle interval after maxRetries', async () => {
    const r = await rig({ maxRetries: 6 });
    r.agent.pollAfter = 20;
    r.api.poll = () => ({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });
    await runUntil(r.agent, () => backoffs(r.events).length >= 9);
    const waits = backoffs(r.events).slice(0, 9);
    const nominal = [1, 2, 4, 8, 16, 20, 20, 20, 20]; // 2^(n-1), capped at the 20 s interval; from the 7th: the interval
    waits.forEach((w, i) => {
      expect(w, `wait ${i + 1}`).toBeGreaterThanOrEqual(nominal[i]! * 0.75 - 0.05);
      expect(w, `wait ${i + 1}`).toBeLessThanOrEqual(nominal[i]! * 1.25 + 0.05);
    });
    // Bounded retries: polls never come faster than the first backoff, and the agent keeps going.
    expect(r.api.requests.filter((q) => q.path === '/device/v1/poll').length).toBeGreaterThanOrEqual(9);
  });

  it('honours Retry-After (429 and a loaded server) as a minimum wait', async () => {
    const r = await rig();
    r.agent.pollAfter = 60;
    let n = 0;
    r.api.poll = () => (n++ < 3 ? { status: 429, headers: { 'retry-after': '30' }, body: { error: { code: 'RATE_LIMITED' } } } : { status: 503, body: { error: { code: 'X' } } });
    await runUntil(r.agent, () => backoffs(r.events).length >= 4);
    const w = backoffs(r.events);
    for (const x of w.slice(0, 3)) expect(x).toBeGreaterThanOrEqual(30);
    expect(w[3]).toBeLessThan(30); // without Retry-After: the exponential backoff again (4th error: 8 s ± 25 %)
    // A 'none' answer with Retry-After from a loaded server: the next poll waits at least that long.
    r.api.poll = () => ({ headers: { 'x-poll-after': '5', 'retry-after': '40' }, body: { status: 'none', pollAfter: 5 } });
    for (let i = 0; i < 20; i++) expect(await r.agent.cycle()).toBeGreaterThanOrEqual(40);
  });

  it('kill switch: a paused answer is honoured — no envelope, no payload, no report, wait the interval', async () => {
    const r = await rig();
    r.api.poll = () => ({ headers: { 'x-poll-after': '3600' }, body: { status: 'paused', pollAfter: 3600, until: '2099-01-01T00:00:00Z', reason: 'incident 42' } });
    const wait = await r.agent.cycle();
    expect(wait).toBeGreaterThanOrEqual(3600 * 0.9);
    expect(r.events.some((e) => e.kind === 'paused' && e.detail === 'incident 42')).toBe(true);
    expect(r.api.payloadRequests()).toBe(0);
    expect(r.api.reports).toHaveLength(0);
    expect(r.agent.dev.state.phase).toBe('idle');
  });

  it('pre-check before any payload byte: another class or a lower/equal sequence number downloads nothing and reports failed once', async () => {
    const r = await rig();
    const other = makeRelease(r.vendor, { seq: 5, image: r.v2, classId: classIdFrom(vendorIdFromDomain('example.com'), 'other-model') });
    const old = makeRelease(r.vendor, { seq: 1, image: r.v2 });
    const foreign = makeRelease(makeVendor(), { seq: 5, image: r.v2, vendorId: r.vendor.identity.vendorId, classId: r.vendor.identity.classId });
    const cases: [string, Uint8Array, string][] = [['a-class', other, 'CLASS_MISMATCH'], ['a-seq', old, 'ROLLBACK_REJECTED'], ['a-key', foreign, '']];
    for (const [id, env, code] of cases) {
      const ans = r.api.offer(id, 5, env, [{ kind: 'full', bytes: r.v2, to: sha(r.v2) }, { kind: 'delta', bytes: encodeDelta(r.v1, r.v2), from: sha(r.v1), to: sha(r.v2) }]);
      r.api.poll = () => ans;
      await r.agent.cycle();
      await r.agent.cycle(); // the same assignment again: remembered, not re-checked or re-reported
      const reps = r.api.reports.slice(-1);
      expect(reps[0]!.status, id).toBe('failed');
      if (code) expect(reps[0]!.code, id).toBe(code);
      expect(typeof reps[0]!.report.result === 'object' && reps[0]!.report.result !== null, id).toBe(true);
    }
    expect(r.api.reports.map((x) => x.status)).toEqual(['failed', 'failed', 'failed']);
    expect(r.api.payloadRequests()).toBe(0);
    expect(r.api.payloadBytes).toBe(0);
    expect(r.agent.dev.bootInfo().imageDigest).toBe(sha(r.v1));
  });

  it('chooses the delta for its running image, and signs a report at each step (downloading, installed, booted, confirmed)', async () => {
    const r = await rig();
    const env = makeRelease(r.vendor, { seq: 2, image: r.v2 });
    const patch = encodeDelta(r.v1, r.v2);
    const wrongDelta = encodeDelta(makeImage(20_000, 9), r.v2);
    const ans = r.api.offer('a1', 2, env, [
      { kind: 'delta', bytes: wrongDelta, from: '11'.repeat(32), to: sha(r.v2) }, // for another precursor
      { kind: 'full', bytes: r.v2, to: sha(r.v2) },
      { kind: 'delta', bytes: patch, from: sha(r.v1), to: sha(r.v2) },
    ]);
    r.api.poll = () => ans;
    await r.agent.cycle();
    expect(r.api.requests.filter((q) => q.path.startsWith('/obj/')).map((q) => q.path)).toEqual(['/obj/a1-2-delta']);
    expect(r.api.payloadBytes).toBe(patch.length);
    expect(r.api.reports.map((x) => x.status)).toEqual(['downloading', 'installed', 'booted', 'confirmed']);
    for (const x of r.api.reports) {
      expect(x.signedStatus).toBe(x.status);
      expect(x.report.result).toBe(true);
      expect(toHex(x.report.reference.digest!.bytes)).toBe(sha(r.v2));
    }
    const info = r.agent.dev.bootInfo();
    expect(info.imageDigest).toBe(sha(r.v2));
    expect(info.trial).toBe(false);
    const st = r.agent.stats();
    expect(st.updatesByDelta).toBe(1);
    expect(st.deltaBytes).toBe(patch.length);
    expect(st.deltaFullEquivalent).toBe(r.v2.length);
    expect(st.peakRamBytes).toBeLessThanOrEqual(st.ramLimitBytes);
  });

  it('sequence numbers beyond 2^53 (uint64) are kept exactly: installs, confirms and polls with the exact value', async () => {
    const r = await rig();
    const big = (1n << 53n) + 1n; // equal to 2^53 as a JS number: any Number() on the way would lose it
    const env = makeRelease(r.vendor, { seq: big, image: r.v2 });
    const ans = r.api.offer('a-big', big, env, [{ kind: 'full', bytes: r.v2, to: sha(r.v2) }]);
    r.api.poll = () => ans;
    await r.agent.cycle();
    expect(r.api.reports.map((x) => x.status)).toEqual(['downloading', 'installed', 'booted', 'confirmed']);
    expect(r.agent.dev.bootInfo().committedSequenceNumber).toBe(big);
    r.api.poll = () => ({ body: { status: 'none', pollAfter: 1 }, headers: { 'x-poll-after': '1' } });
    await r.agent.cycle();
    const last = r.api.requests.filter((q) => q.path === '/device/v1/poll').at(-1)!;
    expect(new URLSearchParams(last.query).get('seq')).toBe(big.toString());
  });

  it('falls back to the full image when the patch fails, and still confirms', async () => {
    const r = await rig({ profile: 'smallpage' });
    const env = makeRelease(r.vendor, { seq: 2, image: r.v2 });
    const patch = encodeDelta(r.v1, r.v2);
    const broken = patch.slice();
    for (let i = Math.floor(broken.length / 2); i < broken.length; i += 7) broken[i]! ^= 0x5a;
    const ans = r.api.offer('a1', 2, env, [{ kind: 'delta', bytes: broken, from: sha(r.v1), to: sha(r.v2) }, { kind: 'full', bytes: r.v2, to: sha(r.v2) }]);
    r.api.poll = () => ans;
    await runUntil(r.agent, () => r.api.reports.some((x) => x.status === 'confirmed' || x.status === 'failed'));
    const fetched = [...new Set(r.api.requests.filter((q) => q.path.startsWith('/obj/')).map((q) => q.path))];
    expect(fetched).toEqual(['/obj/a1-0-delta', '/obj/a1-1-full']);
    expect(r.api.reports.map((x) => x.status)).toEqual(['downloading', 'installed', 'booted', 'confirmed']);
    expect(r.agent.dev.bootInfo().imageDigest).toBe(sha(r.v2));
    expect(r.agent.stats().updatesByFull).toBe(1);
  });

  it('a release whose application fails its self-test: booted, then reverted with HEALTH_CHECK_FAILED (signed code), back on the old image', async () => {
    const r = await rig();
    const bad = r.v2.slice();
    bad.set(new TextEncoder().encode(SELFTEST_FAIL_MARKER), 1000);
    const env = makeRelease(r.vendor, { seq: 2, image: bad });
    r.api.poll = () => r.api.offer('a1', 2, env, [{ kind: 'full', bytes: bad, to: sha(bad) }]);
    await r.agent.cycle();
    expect(r.api.reports.map((x) => x.status)).toEqual(['downloading', 'installed', 'booted', 'reverted']);
    const rev = r.api.reports.at(-1)!;
    expect(rev.code).toBe('HEALTH_CHECK_FAILED');
    expect(rev.report.result).toMatchObject({ code: ERRORS.HEALTH_CHECK_FAILED.report });
    const info = r.agent.dev.bootInfo();
    expect(info.imageDigest).toBe(sha(r.v1));
    expect(info.lastUpdate).toBe('reverted');
    // The same assignment is not tried again.
    await r.agent.cycle();
    expect(r.api.reports).toHaveLength(4);
    expect(r.api.payloadRequests()).toBe(1);
  });

  it('a payload that does not match the signed digest (and no fallback): failed with PAYLOAD_DIGEST_MISMATCH, signed', async () => {
    const r = await rig();
    const env = makeRelease(r.vendor, { seq: 2, image: r.v2 });
    const wrong = r.v2.slice();
    wrong[500]! ^= 1;
    const ans = r.api.offer('a1', 2, env, [{ kind: 'full', bytes: wrong, to: sha(r.v2) }]);
    // the server names the signed digest but serves other bytes
    (ans.body!['payloads'] as { sha256: string }[])[0]!.sha256 = sha(r.v2);
    r.api.poll = () => ans;
    await r.agent.cycle();
    expect(r.api.reports.map((x) => x.status)).toEqual(['downloading', 'failed']);
    expect(r.api.reports[1]!.code).toBe('PAYLOAD_DIGEST_MISMATCH');
    expect(r.api.reports[1]!.report.result).toMatchObject({ code: ERRORS.PAYLOAD_DIGEST_MISMATCH.report });
    expect(r.agent.dev.bootInfo().imageDigest).toBe(sha(r.v1));
  });

  it('energy per radio profile: the documented µJ/byte figures, and stats = bytes × energy per byte', async () => {
    const table: Record<string, [number, number]> = { 'nb-iot': [86.4, 316.8], lora: [53.1, 212.4], ble: [0.216, 0.216], wifi: [0.264, 0.475] };
    for (const [name, [rx, tx]] of Object.entries(table)) {
      const e = energyPerByte(RADIOS[name]!);
      expect(e.rxMicrojoules, name).toBeCloseTo(rx, 1);
      expect(e.txMicrojoules, name).toBeCloseTo(tx, 1);
    }
    const per: Record<string, { mj: number; rx: number; tx: number }> = {};
    for (const radio of ['nb-iot', 'ble']) {
      const r = await rig({ radio });
      const env = makeRelease(r.vendor, { seq: 2, image: r.v2 });
      r.api.poll = () => r.api.offer('a1', 2, env, [{ kind: 'full', bytes: r.v2, to: sha(r.v2) }]);
      await r.agent.cycle();
      const st = r.agent.stats();
      expect(st.radio).toBe(radio);
      expect(st.bytesReceived).toBeGreaterThan(r.v2.length);
      expect(st.energyMillijoules).toBeCloseTo(radioCost(RADIOS[radio]!, st.bytesReceived, st.bytesSent).millijoules, 0);
      per[radio] = { mj: st.energyMillijoules, rx: st.bytesReceived, tx: st.bytesSent };
      await api!.close();
      api = undefined;
    }
    // Same update, same bytes (±headers): NB-IoT costs ~400× more than BLE per byte received.
    expect(per['nb-iot']!.mj / per['ble']!.mj).toBeGreaterThan(300);
  });
});
