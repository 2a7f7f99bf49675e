/**
 * The device API's state: device facts cache, batched "seen" writes, release views, poll decisions,
 * download authorization and report recording. The router (router.ts) only parses, calls and encodes.
 *
 * Poll path budget: once a device is known, a poll costs a hash (token), a few Map lookups and one
 * CBOR encoding; no query and no write per request (last-seen and reported seq/digest are flushed in
 * batches).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { UpdateError, fromHex } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import type { DeviceRecord, DevicePatch, ReleaseRecord, ReportRecord, UpdateState } from '../state/index.js';
import { killSwitches, rolloutService, type Assignment, type DeviceFacts, type DeviceStatus, type KillSwitch } from '../rollouts/index.js';
import { newId } from '../util/ids.js';
import { DeviceAuth, DEFAULT_DEVICE_AUTH, type DeviceAuthOptions } from './auth.js';
import { DeltaService, inProcessEncoder, workerEncoder, type DeltaOptions, type DeltaRecord } from './deltas.js';
import { parseIdentityKey } from './identity.js';
import { RateLimiter, type BucketSpec } from './rate-limit.js';
import { reconcileStatus, verifySignedReport } from './reports.js';
import { payloadKey } from '../storage/index.js';

export interface DeviceApiOptions {
  auth: DeviceAuthOptions;
  /** Poll interval told to idle devices, seconds; ±jitter fraction is applied per answer. */
  pollIntervalSeconds: number;
  /** Poll interval while an update is in progress. */
  activePollIntervalSeconds: number;
  jitter: number;
  /** Per bearer token (all endpoints). */
  tokenLimit: BucketSpec;
  /** Per device id on the unauthenticated auth endpoints. */
  authLimit: BucketSpec;
  /** Event-loop delay (p99 over the last second, ms) above which idle answers carry Retry-After. */
  loadDelayMs: number;
  /** Slowest download rate we plan presigned URL expiry for (bytes/s). */
  slowestDownloadBytesPerSecond: number;
  /** Inline envelopes up to this size in poll answers (bigger ones only by URL). */
  inlineEnvelopeMaxBytes: number;
  deltas: Omit<DeltaOptions, 'encoder'> & { encoder?: DeltaOptions['encoder'] };
  deviceCacheTtlMs: number;
  seenFlushMs: number;
}

export const DEFAULT_DEVICE_API: DeviceApiOptions = {
  auth: DEFAULT_DEVICE_AUTH,
  pollIntervalSeconds: 300,
  activePollIntervalSeconds: 60,
  jitter: 0.1,
  tokenLimit: { ratePerSecond: 5, burst: 30 },
  authLimit: { ratePerSecond: 0.2, burst: 5 },
  loadDelayMs: 200,
  slowestDownloadBytesPerSecond: 2048,
  inlineEnvelopeMaxBytes: 64 * 1024,
  deltas: { fromRecent: 3, maxImageBytes: 64 * 1024 * 1024 },
  deviceCacheTtlMs: 10_000,
  seenFlushMs: 1000,
};

export interface PayloadChoice {
  component: number;
  kind: 'full' | 'delta';
  sha256: string;
  size: number;
  url: string;
  /** delta only: the image the patch applies to. */
  from?: string;
  /** delta only: the image the patch produces (= the full image's digest). */
  to?: string;
}

export interface UpdateAnswer {
  status: 'update'; pollAfter: number; etag: string;
  assignment: { id: string; nonce: Uint8Array; state: string; reportUrl: string };
  release: { id: string; sequence: bigint; version: string | null };
  envelope: Uint8Array | null; envelopeUrl: string; envelopeSize: number; envelopeSha256: string;
  payloads: PayloadChoice[];
  /** The cache entry this answer came from (the router keeps its encoding there). */
  cached?: CachedAnswer;
}

/** An update answer without its per-request poll interval, reused for ANSWER_TTL_MS. */
export interface CachedAnswer {
  answer: UpdateAnswer; at: number; encoded?: { prefix: Buffer; suffix: Buffer };
  /** pollCached's reusable result (pollAfter rewritten per poll; consumed synchronously by the router). */
  scratch?: UpdateAnswer;
  /** Complete CBOR bodies by pollAfter (router.ts, bounded globally). */
  bodies?: Map<number, Buffer> | undefined;
}
const ANSWER_TTL_MS = 30_000;

export type PollAnswer =
  | { status: 'none'; pollAfter: number; etag: string; retryAfter?: number }
  | { status: 'paused'; pollAfter: number; etag: string; until: string; reason: string }
  | UpdateAnswer;

interface CachedDevice { rec: DeviceRecord; pub: Uint8Array | null; at: number; seenWritten: number }

interface ReleaseView { rel: ReleaseRecord; envelope: Uint8Array | null; payloadSizes: Map<string, number> }

const UPDATE_STATE_FOR: Record<DeviceStatus, UpdateState> = {
  downloading: 'in_progress', installed: 'in_progress', booted: 'in_progress', confirmed: 'idle', failed: 'failed', reverted: 'reverted',
};
const REPORT_RESULT_FOR: Record<DeviceStatus, ReportRecord['result']> = {
  downloading: 'in_progress', installed: 'in_progress', booted: 'in_progress', confirmed: 'success', failed: 'failed', reverted: 'reverted',
};

export class DeviceApi {
  readonly auth: DeviceAuth;
  readonly deltas: DeltaService;
  readonly tokenLimiter: RateLimiter;
  readonly authLimiter: RateLimiter;
  readonly rollouts;
  private readonly kills;
  private readonly devices = new Map<string, CachedDevice>();
  private readonly releases = new Map<string, ReleaseView>();
  private readonly presigned = new Map<string, { url: string; until: number }>();
  private readonly answers = new Map<string, CachedAnswer>();
  private readonly pendingSeen = new Map<string, DevicePatch>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly delay: IntervalHistogram;
  private loadSampleAt = 0;
  private loaded = false;
  private ready: Promise<void> | undefined;

  constructor(readonly ctx: ServerContext, readonly opts: DeviceApiOptions = DEFAULT_DEVICE_API) {
    this.auth = new DeviceAuth(ctx, opts.auth);
    this.deltas = new DeltaService(ctx, { ...opts.deltas, encoder: opts.deltas.encoder ?? workerEncoder() });
    this.tokenLimiter = new RateLimiter(opts.tokenLimit);
    this.authLimiter = new RateLimiter(opts.authLimit);
    this.rollouts = rolloutService(ctx);
    this.kills = killSwitches(ctx);
    this.delay = monitorEventLoopDelay({ resolution: 20 });
    this.delay.enable();
    ctx.events.on('release.created', (r) => void this.deltas.scheduleDeltas(r));
  }

  init(): Promise<void> {
    this.ready ??= (async () => {
      await this.rollouts.ready();
      await this.kills.load();
      this.loaded = true;
    })();
    return this.ready;
  }

  /** Flush pending writes and stop timers (graceful shutdown). */
  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushSeen();
    this.delay.disable();
  }

  // ------------------------------------------------------------------ devices

  async device(id: string): Promise<CachedDevice> {
    const t = Date.now();
    const c = this.devices.get(id);
    if (c && t - c.at < this.opts.deviceCacheTtlMs) return c;
    const rec = await this.ctx.store.getDevice(id);
    if (!this.auth.enrolled(rec)) throw new UpdateError('DEVICE_NOT_ENROLLED', 'this device is not enrolled');
    let pub: Uint8Array | null = null;
    try { pub = parseIdentityKey(rec.identityKey); } catch { pub = null; }
    // Keep what polls told us since the last read, if not flushed yet.
    const p = this.pendingSeen.get(id);
    if (p) Object.assign(rec, { ...(p.currentSeq !== undefined ? { currentSeq: p.currentSeq } : {}), ...(p.currentDigest !== undefined ? { currentDigest: p.currentDigest } : {}) });
    if (this.devices.size > 200_000) this.devices.clear();
    const fresh: CachedDevice = { rec, pub, at: t, seenWritten: c?.seenWritten ?? 0 };
    this.devices.set(id, fresh);
    return fresh;
  }

  facts(d: DeviceRecord): DeviceFacts {
    return { id: d.id, tenantId: d.tenantId, vendorId: d.vendorId, classId: d.classId, tags: d.tags, groups: d.groups, currentSeq: d.currentSeq };
  }

  /** Records what the device said (batched): sequence, digest, and last-seen at most once a minute. */
  private seen(c: CachedDevice, seq: bigint | null, digest: string | null): void {
    const t = Date.now();
    const changed = (seq !== null && seq !== c.rec.currentSeq) || (digest !== null && digest !== c.rec.currentDigest);
    if (!changed && t - c.seenWritten < 60_000) return;
    c.seenWritten = t;
    const patch: DevicePatch = { ...(this.pendingSeen.get(c.rec.id) ?? {}), lastSeen: new Date(t).toISOString() };
    if (seq !== null) { patch.currentSeq = seq; c.rec.currentSeq = seq; }
    if (digest !== null) { patch.currentDigest = digest; c.rec.currentDigest = digest; }
    this.pendingSeen.set(c.rec.id, patch);
    this.flushTimer ??= setTimeout(() => { this.flushTimer = undefined; void this.flushSeen(); }, this.opts.seenFlushMs);
    this.flushTimer.unref?.();
  }

  async flushSeen(): Promise<void> {
    if (this.pendingSeen.size === 0) return;
    const batch = [...this.pendingSeen];
    this.pendingSeen.clear();
    const at = new Date().toISOString();
    try {
      await this.ctx.store.transaction(async (tx) => {
        for (const [id, p] of batch) await tx.updateDevice(id, p, at);
      });
    } catch (e) {
      this.ctx.log.warn({ err: e, n: batch.length }, 'could not record device last-seen; will retry');
      for (const [id, p] of batch) if (!this.pendingSeen.has(id)) this.pendingSeen.set(id, p);
    }
  }

  // ------------------------------------------------------------------ releases and URLs

  async releaseView(id: string): Promise<ReleaseView> {
    let v = this.releases.get(id);
    if (v) return v;
    const rel = await this.ctx.store.getRelease(id);
    if (!rel) throw new UpdateError('NOT_FOUND', `release ${id} is gone`);
    let envelope: Uint8Array | null = null;
    if (rel.envelopeSize <= this.opts.inlineEnvelopeMaxBytes) envelope = await this.readObject(rel.envelopeKey);
    const payloadSizes = new Map<string, number>();
    for (const c of rel.components) {
      if (!c.digest) continue;
      const p = await this.ctx.store.getPayload(c.digest);
      if (p) payloadSizes.set(c.digest, p.size);
    }
    v = { rel, envelope, payloadSizes };
    if (this.releases.size > 1000) this.releases.clear();
    this.releases.set(id, v);
    return v;
  }

  private async readObject(key: string): Promise<Uint8Array> {
    const g = await this.ctx.objects.get(key);
    const chunks: Buffer[] = [];
    for await (const c of g.body) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** Download URL of an object: a presigned S3 URL (expiry outlasting a slow download) or our own path. */
  async urlFor(key: string, size: number, ownPath: string): Promise<string> {
    if (this.ctx.objects.kind === 's3') {
      const t = Date.now();
      const hit = this.presigned.get(key);
      if (hit && hit.until > t) return hit.url;
      // S3 caps presigned URLs at 7 days.
      const expiry = Math.min(7 * 86400, Math.max(this.ctx.config.presignExpirySeconds, Math.ceil(size / this.opts.slowestDownloadBytesPerSecond) + 3600));
      const url = await this.ctx.objects.presignGet(key, expiry);
      if (url) {
        // Reuse while at least 3/4 of the validity remains for whoever gets it.
        this.presigned.set(key, { url, until: t + (expiry * 1000) / 4 });
        return url;
      }
    }
    return (this.ctx.config.publicUrl ? this.ctx.config.publicUrl.replace(/\/+$/, '') : '') + ownPath;
  }

  // ------------------------------------------------------------------ poll

  private jittered(base: number): number {
    const j = this.opts.jitter;
    return Math.max(1, Math.round(base * (1 - j + Math.random() * 2 * j)));
  }

  /** p99 event-loop delay (ms), sampled at most once a second. */
  private underLoad(): boolean {
    const t = Date.now();
    if (t - this.loadSampleAt < 1000) return this.lastLoad;
    this.loadSampleAt = t;
    this.lastLoad = this.delay.percentile(99) / 1e6 > this.opts.loadDelayMs;
    this.delay.reset();
    return this.lastLoad;
  }
  private lastLoad = false;

  /**
   * The poll answer when everything it depends on is cached (device facts, latest assignment, the
   * answer itself): no promise, no query, no allocation. The result must be consumed synchronously
   * (an update answer is a reused object whose pollAfter changes on the next call). Undefined means "ask
   * `poll`" (which also produces every error). Same decisions as `poll`, step for step.
   */
  pollCached(deviceId: string, q: { seq: bigint | null; digest: string | null; classId: string | null }): PollAnswer | undefined {
    if (!this.loaded) return undefined;
    const c = this.devices.get(deviceId);
    if (!c || Date.now() - c.at >= this.opts.deviceCacheTtlMs) return undefined;
    const d = c.rec;
    if (q.classId !== null && q.classId.toLowerCase() !== d.classId.toLowerCase()) return undefined;
    // What the device runs changed: the slow path records it first and decides on the new facts.
    if ((q.seq !== null && q.seq !== d.currentSeq) || (q.digest !== null && q.digest !== d.currentDigest)) return undefined;
    if (this.kills.activeFor(d.tenantId)) return undefined;
    this.seen(c, q.seq, q.digest);
    // A DeviceRecord is a DeviceFacts (same field names): no copy per poll.
    const a = this.rollouts.resolveCached(d);
    if (a === undefined) return undefined;
    const rollout = a ? this.rollouts.servingRollout(a.rolloutId) : undefined;
    if (!a || !rollout || a.state === 'confirmed' || a.state === 'failed' || a.state === 'reverted' || (d.currentSeq !== null && d.currentSeq >= rollout.sequence)) {
      return this.noneAnswer();
    }
    const v = this.releases.get(a.releaseId);
    if (!v) return undefined;
    let deltaTag = '';
    if (d.currentDigest) {
      for (const comp of v.rel.components) {
        if (!comp.digest || d.currentDigest === comp.digest) continue;
        const delta = this.deltas.offerCached(comp.digest, d.currentDigest);
        if (delta === undefined) return undefined;
        if (delta && delta.patchSha256 && delta.objectKey && delta.size !== null) deltaTag += `.${delta.patchSha256.slice(0, 16)}`;
      }
    }
    const hit = this.answers.get(deltaTag === '' ? `${a.id}|${a.state}|` : `${a.id}|${a.state}|${deltaTag}`);
    if (!hit || Date.now() - hit.at >= ANSWER_TTL_MS) return undefined;
    // No copy per poll: the router encodes the answer before anything else can run.
    const out = (hit.scratch ??= { ...hit.answer, cached: hit });
    out.pollAfter = this.jittered(this.opts.activePollIntervalSeconds);
    return out;
  }

  private noneAnswer(): PollAnswer {
    const load = this.underLoad();
    const pollAfter = this.jittered(this.opts.pollIntervalSeconds * (load ? 2 : 1));
    return load ? { status: 'none', pollAfter, etag: 'W/"none"', retryAfter: pollAfter } : { status: 'none', pollAfter, etag: 'W/"none"' };
  }

  async poll(deviceId: string, q: { seq: bigint | null; digest: string | null; classId: string | null }): Promise<PollAnswer> {
    if (!this.loaded) await this.init();
    const c = await this.device(deviceId);
    const d = c.rec;
    if (q.classId !== null && q.classId.toLowerCase() !== d.classId.toLowerCase()) {
      throw new UpdateError('CLASS_MISMATCH', 'the class the device reports is not the class it was registered with');
    }
    this.seen(c, q.seq, q.digest);
    const kill: KillSwitch | null = this.kills.activeFor(d.tenantId);
    if (kill) {
      const secs = Math.max(1, Math.ceil((Date.parse(kill.until) - Date.now()) / 1000));
      return { status: 'paused', pollAfter: this.jittered(Math.min(secs + 30, 30 * 86400)), etag: `W/"k.${kill.until}"`, until: kill.until, reason: kill.reason };
    }
    const a = await this.rollouts.resolve(this.facts(d));
    const rollout = a ? this.rollouts.servingRollout(a.rolloutId) : undefined;
    if (!a || !rollout || a.state === 'confirmed' || a.state === 'failed' || a.state === 'reverted' || (d.currentSeq !== null && d.currentSeq >= rollout.sequence)) {
      return this.noneAnswer();
    }
    return this.updateAnswer(a, d);
  }

  private async updateAnswer(a: Assignment, d: DeviceRecord): Promise<PollAnswer> {
    const v = await this.releaseView(a.releaseId);
    const rel = v.rel;
    // Which deltas apply decides the answer (and its ETag); everything else follows from the assignment.
    const deltas: DeltaRecord[] = [];
    let deltaTag = '';
    if (d.currentDigest) {
      for (const comp of rel.components) {
        if (!comp.digest || d.currentDigest === comp.digest) continue;
        const delta = await this.deltas.offer(comp.digest, d.currentDigest);
        if (delta && delta.patchSha256 && delta.objectKey && delta.size !== null) {
          deltas.push(delta);
          deltaTag += `.${delta.patchSha256.slice(0, 16)}`;
        }
      }
    }
    const key = `${a.id}|${a.state}|${deltaTag}`;
    const t = Date.now();
    const hit = this.answers.get(key);
    if (hit && t - hit.at < ANSWER_TTL_MS) return { ...hit.answer, pollAfter: this.jittered(this.opts.activePollIntervalSeconds), cached: hit };
    const payloads: PayloadChoice[] = [];
    for (const comp of rel.components) {
      if (!comp.digest) continue;
      const size = v.payloadSizes.get(comp.digest) ?? comp.size ?? 0;
      payloads.push({ component: comp.index, kind: 'full', sha256: comp.digest, size, url: await this.urlFor(payloadKey(comp.digest), size, `/device/v1/payloads/${comp.digest}`) });
      for (const delta of deltas) {
        if (delta.toSha256 !== comp.digest) continue;
        payloads.push({
          component: comp.index, kind: 'delta', sha256: delta.patchSha256!, size: delta.size!, from: delta.fromSha256, to: delta.toSha256,
          url: await this.urlFor(delta.objectKey!, delta.size!, `/device/v1/deltas/${delta.patchSha256!}`),
        });
      }
    }
    const answer: UpdateAnswer = {
      status: 'update',
      pollAfter: 0,
      etag: `W/"u.${a.id}${deltaTag}"`,
      assignment: { id: a.id, nonce: fromHex(a.nonce), state: a.state, reportUrl: `/device/v1/assignments/${a.id}/report` },
      release: { id: rel.id, sequence: rel.sequence, version: rel.version },
      envelope: v.envelope,
      envelopeUrl: await this.urlFor(rel.envelopeKey, rel.envelopeSize, `/device/v1/releases/${rel.id}/envelope`),
      envelopeSize: rel.envelopeSize,
      envelopeSha256: rel.envelopeSha256,
      payloads,
    };
    if (this.answers.size > 100_000) this.answers.clear();
    const entry: CachedAnswer = { answer, at: t };
    this.answers.set(key, entry);
    return { ...answer, pollAfter: this.jittered(this.opts.activePollIntervalSeconds), cached: entry };
  }

  // ------------------------------------------------------------------ downloads

  /**
   * The object key a device may download for `sha256` (a payload of its current assignment's release,
   * or a delta patch towards one). Anything else is NOT_FOUND (no oracle for other releases).
   */
  async downloadKey(deviceId: string, kind: 'payload' | 'delta' | 'envelope', id: string): Promise<string> {
    const a = await this.rollouts.latestAssignment(deviceId);
    const open = a && a.state !== 'superseded' && a.state !== 'cancelled';
    if (!open) throw new UpdateError('NOT_FOUND', 'nothing to download for this device');
    const v = await this.releaseView(a.releaseId);
    if (kind === 'envelope') {
      if (id !== v.rel.id) throw new UpdateError('NOT_FOUND', 'not this device\'s release');
      return v.rel.envelopeKey;
    }
    if (kind === 'payload') {
      if (!v.rel.components.some((c) => c.digest === id)) throw new UpdateError('NOT_FOUND', 'not a payload of this device\'s release');
      return payloadKey(id);
    }
    const delta = await this.deltas.getByPatch(id);
    if (!delta || !delta.objectKey || !v.rel.components.some((c) => c.digest === delta.toSha256)) throw new UpdateError('NOT_FOUND', 'no such delta for this device');
    return delta.objectKey;
  }

  // ------------------------------------------------------------------ reports

  async report(deviceId: string, assignmentId: string, body: { status: DeviceStatus; code?: string | number | undefined; report: Uint8Array }): Promise<{ assignment: Assignment; rolloutState: string | null; changed: boolean }> {
    if (!this.loaded) await this.init();
    const c = await this.device(deviceId);
    let a = await this.rollouts.getAssignment(assignmentId);
    if (!a || a.deviceId !== deviceId) throw new UpdateError('NOT_FOUND', `no assignment ${assignmentId} for this device`);
    if (a.state !== 'superseded' && a.state !== 'cancelled') {
      // A newer rollout may have won since the device last polled: resolve supersedes lazily.
      const winner = await this.rollouts.resolve(this.facts(c.rec));
      if (winner && winner.id !== a.id) {
        await this.rollouts.supersede(a);
        a = { ...a, state: 'superseded' };
      }
    }
    if (a.state === 'superseded' || a.state === 'cancelled') {
      throw new UpdateError('GONE', `assignment ${a.id} was ${a.state}; poll for the current one`);
    }
    if (!c.pub) throw new UpdateError('DEVICE_NOT_ENROLLED', 'the device has no usable identity key');
    // Signature and nonce before anything counts.
    const signed = verifySignedReport(body.report, c.pub, fromHex(a.nonce));
    const { code } = reconcileStatus(body.status, body.code, signed);
    const at = new Date().toISOString();
    const rel = await this.releaseView(a.releaseId);
    const rec: ReportRecord = {
      id: newId('rp'), deviceId, tenantId: c.rec.tenantId, releaseId: a.releaseId, result: REPORT_RESULT_FOR[body.status],
      sequence: rel.rel.sequence, digest: null,
      body: { assignmentId: a.id, rolloutId: a.rolloutId, status: body.status, code, signedReport: Buffer.from(body.report).toString('base64url') },
      createdAt: at,
    };
    const current = a;
    let out: { assignment: Assignment; changed: boolean } = { assignment: a, changed: false };
    try {
      await this.ctx.store.transaction(async (tx) => {
        await tx.insertReport(rec);
        out = await this.rollouts.applyStatus(current, body.status, code, tx);
        const patch: DevicePatch = { updateState: UPDATE_STATE_FOR[body.status], lastReport: { status: body.status, code, assignmentId: current.id, at } };
        if (body.status === 'confirmed') patch.currentSeq = rel.rel.sequence;
        await tx.updateDevice(deviceId, patch, at);
      });
    } catch (e) {
      this.rollouts.forgetCaches();
      throw e;
    }
    if (body.status === 'confirmed') {
      c.rec.currentSeq = rel.rel.sequence;
      // A poll's seq batched before this report is older than it: do not let the next flush undo it.
      const p = this.pendingSeen.get(deviceId);
      if (p) delete p.currentSeq;
    }
    this.ctx.metrics.reports.inc({ result: body.status });
    this.ctx.events.emit('report.recorded', rec);
    const r = this.rollouts.servingRollout(current.rolloutId);
    return { ...out, rolloutState: r?.state ?? null };
  }
}

const apis = new WeakMap<ServerContext, DeviceApi>();

/** Options from the settings chosen at start (`ctx.deviceApi`), then `opts` (explicit wins). */
export function deviceApiOptions(ctx: ServerContext, opts?: Partial<DeviceApiOptions>): DeviceApiOptions {
  const s = ctx.deviceApi ?? {};
  const fromSettings: Partial<DeviceApiOptions> = {
    ...(s.pollIntervalSeconds !== undefined ? { pollIntervalSeconds: s.pollIntervalSeconds } : {}),
    ...(s.activePollIntervalSeconds !== undefined ? { activePollIntervalSeconds: s.activePollIntervalSeconds } : {}),
    ...(s.pollJitter !== undefined ? { jitter: s.pollJitter } : {}),
    ...(s.tokenLimit ? { tokenLimit: { ...s.tokenLimit } } : {}),
    ...(s.authLimit ? { authLimit: { ...s.authLimit } } : {}),
    ...(s.loadDelayMs !== undefined ? { loadDelayMs: s.loadDelayMs } : {}),
    ...(s.deltaEncoder ? { deltas: { ...DEFAULT_DEVICE_API.deltas, encoder: s.deltaEncoder === 'inline' ? inProcessEncoder : workerEncoder() } } : {}),
  };
  return { ...DEFAULT_DEVICE_API, ...fromSettings, ...(opts ?? {}) };
}

/** The DeviceApi of a context (created on first use from `ctx.deviceApi` settings and `opts`). */
export function deviceApi(ctx: ServerContext, opts?: Partial<DeviceApiOptions>): DeviceApi {
  let a = apis.get(ctx);
  if (!a) {
    a = new DeviceApi(ctx, deviceApiOptions(ctx, opts));
    apis.set(ctx, a);
  }
  return a;
}

/** The hook the release-creation code calls (also subscribed to `release.created`). */
export function scheduleDeltas(ctx: ServerContext, release: ReleaseRecord): Promise<number> {
  return deviceApi(ctx).deltas.scheduleDeltas(release);
}
