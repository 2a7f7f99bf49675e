/**
 * Attack lab: a vendor with offline keys, signed releases, provisioned devices with their update agent,
 * and a **compromised server** — a malicious HTTP server on 127.0.0.1 that speaks the device API v1
 * shapes (`/device/v1/auth/*`, `/poll`, downloads with Range, reports) and serves whatever the attacker
 * chooses. The device side is the real code (device-bootloader-sim Device + UpdateAgent).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import {
  decodeCbor,
  encodeCbor,
  isUpdateError,
  type CborValue,
  type ErrorCode,
} from '../../manifest/index.js';
import { makeImage, makeRelease, makeVendor, type ReleaseSpec, type Vendor } from '../../device-bootloader-sim/index.js';
import { UpdateAgent, provisionDevice, toCbor, type AgentOptions } from '../../device-bootloader-sim/agent/index.js';
import type { Device } from '../../device-bootloader-sim/index.js';

export const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Expect `fn` to fail with an UpdateError of `code` (codes, never messages). */
export async function refuses(fn: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  let err: unknown;
  try {
    await (typeof fn === 'function' ? fn() : fn);
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected ${code}, but it succeeded`);
  if (!isUpdateError(err)) throw new Error(`expected ${code}, got a non-UpdateError: ${String(err)}`);
  if (err.code !== code) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`);
}

// ------------------------------------------------------------------------------------------ vendor

export interface Lab {
  vendor: Vendor;
  /** v1 (factory), v2, v3: derived images of 20 KiB (they share most bytes, so deltas are small). */
  images: Uint8Array[];
  release(spec: ReleaseSpec): Uint8Array;
}

export function makeLab(size = 20 * 1024): Lab {
  const vendor = makeVendor('acme.example', 'sensor-1');
  const v1 = makeImage(size, 1);
  const v2 = makeImage(size, 2, v1);
  const v3 = makeImage(size, 3, v2);
  return { vendor, images: [v1, v2, v3], release: (spec) => makeRelease(vendor, spec) };
}

/** A factory-provisioned device (identity key in OTP) running `image` at `seq`. */
export async function makeFieldDevice(lab: Lab, opts: { id?: string; profile?: string; image?: Uint8Array; seq?: number; envelope?: Uint8Array } = {}): Promise<Device> {
  const image = opts.image ?? lab.images[0]!;
  const { device } = await provisionDevice({
    deviceId: opts.id ?? 'dev-1',
    profile: opts.profile ?? 'nrf52840',
    identity: { vendorId: lab.vendor.identity.vendorId, classId: lab.vendor.identity.classId },
    anchors: lab.vendor.anchors,
    factoryEnvelope: opts.envelope ?? lab.release({ seq: opts.seq ?? 1, image }),
    factoryImage: image,
  });
  return device;
}

// ------------------------------------------------------------------------------ malicious server

/** What the compromised server puts in a poll answer (device API v1 shapes). */
export interface EvilUpdate {
  assignmentId?: string;
  nonce?: Uint8Array;
  sequence?: number;
  /** Inline envelope (null: only by URL). */
  envelope: Uint8Array | null;
  /** Served at /evil/envelope when `envelope` is null; defaults to `envelope`. */
  envelopeObject?: Uint8Array | Streamed;
  envelopeSize?: number;
  envelopeSha256?: string;
  payloads: EvilPayload[];
}

export interface EvilPayload {
  kind: 'full' | 'delta';
  /** Bytes served, or an endless stream. */
  bytes: Uint8Array | Streamed;
  /** Size the server claims (default: bytes.length). */
  size?: number;
  /** The digest the server claims (default: the full image's signed digest, or the patch's sha256). */
  sha256: string;
  from?: string;
  to?: string;
}

/** A lazily generated body: `length` bytes of `fill`, never held in memory at once. */
export interface Streamed {
  streamed: true;
  length: number;
  fill: number;
}

export interface ReceivedReport {
  assignmentId: string;
  status: string;
  code: string | undefined;
  report: Uint8Array;
}


function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

export class EvilServer {
  url = '';
  private server: Server | undefined;
  /** The answer to the next polls: an update, or nothing. */
  update: EvilUpdate | undefined;
  readonly reports: ReceivedReport[] = [];
  readonly log: string[] = [];
  /** Body bytes the server actually sent per path (what crossed the wire). */
  readonly sent = new Map<string, number>();
  polls = 0;
  /** Object responses still streaming (the client has not gone away). */
  active = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private cbor(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/cbor');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.end(Buffer.from(encodeCbor(toCbor(body))));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    this.log.push(`${req.method} ${path}`);
    if (path === '/device/v1/auth/challenge') return this.cbor(res, 200, { challenge: new Uint8Array(randomBytes(32)), expiresIn: 60 });
    if (path === '/device/v1/auth/token') return this.cbor(res, 200, { token: 'evil-token', expiresIn: 3600 });
    if (path === '/device/v1/poll') {
      this.polls++;
      const u = this.update;
      if (!u) return this.cbor(res, 200, { v: 1, status: 'none', pollAfter: 1 }, { 'X-Poll-After': '1' });
      const envObj = u.envelopeObject ?? u.envelope ?? new Uint8Array(0);
      const envSize = u.envelopeSize ?? ('streamed' in envObj ? envObj.length : envObj.length);
      return this.cbor(
        res,
        200,
        {
          v: 1,
          status: 'update',
          pollAfter: 1,
          assignment: { id: u.assignmentId ?? 'as-1', nonce: u.nonce ?? new Uint8Array(16).fill(9), state: 'assigned', reportUrl: `/device/v1/assignments/${u.assignmentId ?? 'as-1'}/report` },
          release: { id: 'r'.repeat(64), sequence: u.sequence ?? 2, version: null },
          envelope: u.envelope,
          envelopeUrl: '/evil/envelope',
          envelopeSize: envSize,
          envelopeSha256: u.envelopeSha256 ?? ('streamed' in envObj ? '0'.repeat(64) : sha256hex(envObj)),
          payloads: u.payloads.map((p, i) => ({
            component: 0,
            kind: p.kind,
            sha256: p.sha256,
            size: p.size ?? p.bytes.length,
            url: `/evil/payload/${i}`,
            ...(p.from ? { from: p.from } : {}),
            ...(p.to ? { to: p.to } : {}),
          })),
        },
        { 'X-Poll-After': '1' },
      );
    }
    if (path === '/evil/envelope') {
      const u = this.update;
      return this.object(req, res, path, u?.envelopeObject ?? u?.envelope ?? new Uint8Array(0));
    }
    const m = /^\/evil\/payload\/(\d+)$/.exec(path);
    if (m) {
      const p = this.update?.payloads[Number(m[1])];
      if (!p) return this.cbor(res, 404, { error: { code: 'NOT_FOUND', message: 'no' } });
      return this.object(req, res, path, p.bytes);
    }
    const r = /^\/device\/v1\/assignments\/([^/]+)\/report$/.exec(path);
    if (r && req.method === 'POST') {
      const body = decodeCbor(await readBody(req), { maxBytes: 1 << 20 }) as Map<string, CborValue>;
      this.reports.push({
        assignmentId: r[1]!,
        status: String(body.get('status')),
        code: body.get('code') === undefined ? undefined : String(body.get('code')),
        report: body.get('report') as Uint8Array,
      });
      return this.cbor(res, 200, { recorded: true });
    }
    return this.cbor(res, 404, { error: { code: 'NOT_FOUND', message: path } });
  }

  /** Serve an object with Range support; a Streamed object is generated chunk by chunk until the client goes away. */
  private async object(req: IncomingMessage, res: ServerResponse, path: string, obj: Uint8Array | Streamed): Promise<void> {
    const total = 'streamed' in obj ? obj.length : obj.length;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    res.statusCode = range ? 206 : 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(total - start));
    if (range) res.setHeader('Content-Range', `bytes ${start}-${total - 1}/${total}`);
    const count = (n: number) => this.sent.set(path, (this.sent.get(path) ?? 0) + n);
    if (!('streamed' in obj)) {
      count(total - start);
      res.end(Buffer.from(obj.subarray(start)));
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, obj.fill);
    let off = start;
    let gone = false;
    this.active++;
    res.on('close', () => {
      if (!gone) this.active--;
      gone = true;
    });
    while (off < total && !gone) {
      const n = Math.min(chunk.length, total - off);
      const ok = res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      count(n);
      off += n;
      if (!ok) await new Promise<void>((r) => { res.once('drain', r); res.once('close', r); });
    }
    res.end();
  }

  /** Bytes sent for all objects. */
  sentTotal(): number {
    let n = 0;
    for (const v of this.sent.values()) n += v;
    return n;
  }
}

/** An update agent for `device` pointed at `server`, waits scaled to nothing. */
export function agentFor(device: Device, server: string, o: Partial<AgentOptions> = {}): UpdateAgent {
  return new UpdateAgent({ deviceId: o.deviceId ?? 'dev-1', server, device, timeScale: 0, ...o });
}

/** A snapshot of what must never move backwards or change without a verified image. */
export function deviceFacts(d: Device): { seq: bigint; committed: bigint; counter: number; digest: string; anchors: number } {
  const i = d.bootInfo();
  return { seq: i.sequenceNumber, committed: i.committedSequenceNumber, counter: i.securityCounter, digest: i.imageDigest, anchors: i.anchorsVersion };
}

/** Flash program/erase operations of a device since `before`. */
export function flashOpsSince(d: Device, before: { writes: number; erases: number; bytesWritten: number }): { writes: number; erases: number; bytesWritten: number } {
  const s = d.flash.stats;
  return { writes: s.writes - before.writes, erases: s.erases - before.erases, bytesWritten: s.bytesWritten - before.bytesWritten };
}

export function flashMark(d: Device): { writes: number; erases: number; bytesWritten: number } {
  const s = d.flash.stats;
  return { writes: s.writes, erases: s.erases, bytesWritten: s.bytesWritten };
}

/** CRC-32 (IEEE), for re-sealing a hostile delta header. */
export function crc32(b: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Rewrite fields of a delta patch header (56 bytes) and fix its header CRC, as a hostile server would. */
export function forgeDeltaHeader(patch: Uint8Array, f: { oldSize?: number; newSize?: number; oldDigest?: Uint8Array }): Uint8Array {
  const out = patch.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (f.oldSize !== undefined) dv.setUint32(8, f.oldSize >>> 0, true);
  if (f.newSize !== undefined) dv.setUint32(12, f.newSize >>> 0, true);
  if (f.oldDigest) out.set(f.oldDigest, 16);
  dv.setUint32(52, crc32(out.subarray(0, 52)), true);
  return out;
}
