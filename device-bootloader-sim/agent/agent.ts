/**
 * The network update agent: the application-side loop of a device that talks to the fleet server's
 * device API v1 (update-server/device-api, CBOR). One step at a time, each persisted before it is
 * reported, so a power cut anywhere resumes where the device was:
 *
 *   enroll (challenge/response with the OTP identity key) → poll (server interval + jitter; Retry-After,
 *   errors → bounded exponential backoff; kill switch → wait) → envelope → PRE-CHECK (signature,
 *   vendor/class, sequence > committed, size; REQ.USE.MFST.PRE_CHECK: before any payload byte) →
 *   choose delta (for our running digest) or full → download with Range into the candidate slot
 *   (resumable, see candidate.ts) → target digest → mark pending → reboot (bootloader swaps, trial
 *   boot) → application health check → confirm (or fail → reboot → revert) → signed reports at each
 *   step: downloading, installed, booted, confirmed, failed (with code), reverted (with code).
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import {
  ERRORS,
  SoftwareSigningKey,
  UpdateError,
  encodeCbor,
  fromHex,
  isUpdateError,
  signReport,
  toHex,
  uuidToString,
  type ErrorCode,
  type SuitReport,
} from '../../manifest/index.js';
import type { Device } from '../device.js';
import { SLOT_HEADER_LEN, assertFits } from '../slot.js';
import { checkEnvelope, type ImageClaims } from '../verify.js';
import { CandidateWriter, digestHex } from './candidate.js';
import { AgentNvm, type AgentRecord } from './nvm.js';
import { radioCost, type RadioProfile, RADIOS } from './radio.js';
import { DeviceTransport, HttpError } from './transport.js';

ed.hashes.sha512 ??= sha512;

export type ReportStatus = 'downloading' | 'installed' | 'booted' | 'confirmed' | 'failed' | 'reverted';

/** Bytes in a demo image that make its simulated application fail its self-test. */
export const SELFTEST_FAIL_MARKER = 'SUIT-DEMO:SELFTEST=FAIL';

/** Default application self-test: the image must not carry the failure marker. */
export function defaultHealthCheck(image: Uint8Array): boolean {
  return !Buffer.from(image.buffer, image.byteOffset, image.byteLength).includes(SELFTEST_FAIL_MARKER);
}

export interface AgentFaults {
  /** Called before each download request: return a byte count to break the link after, or undefined. */
  linkCut?(ctx: { attempt: number; offset: number; size: number }): number | undefined;
  /** Called when a download starts or resumes: return a number of flash operations after which power is cut. */
  powerCut?(ctx: { offset: number; size: number; kind: 'full' | 'delta' }): number | undefined;
}

export interface AgentOptions {
  deviceId: string;
  server: string;
  device: Device;
  nvm?: AgentNvm;
  radio?: RadioProfile;
  /** Class UUID the device reports when polling (text form). */
  classId?: string;
  /** Multiplies every wait (server intervals, backoff); <1 runs the fleet faster than real time. */
  timeScale?: number;
  /** Consecutive failed cycles before the agent backs off to the idle interval. */
  maxRetries?: number;
  healthCheck?: (image: Uint8Array) => boolean;
  faults?: AgentFaults;
  /** Receive buffer (bytes handed to the writer at once). */
  rxBuffer?: number;
  /** 'auto' (default): the delta when one exists for the running image; 'full': always the full image. */
  payload?: 'auto' | 'full';
  /** Downloads take the radio profile's time on air (× timeScale), so a fleet update has a realistic shape in time. */
  airtime?: boolean;
  log?: (event: AgentEvent) => void;
}

export type AgentEvent =
  | { kind: 'enrolled' | 'idle' | 'paused' | 'power-cut' | 'link-broken' | 'backoff' | 'rejected'; deviceId: string; detail?: string }
  | { kind: 'report'; deviceId: string; status: ReportStatus; code?: string | undefined; version?: string | undefined }
  | { kind: 'download'; deviceId: string; done: number; total: number; payload: 'full' | 'delta' };

export interface AgentStats {
  bytesReceived: number;
  bytesSent: number;
  requests: number;
  flashErases: number;
  flashWrites: number;
  peakRamBytes: number;
  ramLimitBytes: number;
  signatureVerifications: number;
  statusWrites: number;
  powerCuts: number;
  linkBreaks: number;
  reports: number;
  energyMillijoules: number;
  secondsOnAir: number;
  radio: string;
  /** Payload bytes received as delta patches, and what the full images of those updates weigh. */
  deltaBytes: number;
  deltaFullEquivalent: number;
  updatesByDelta: number;
  updatesByFull: number;
}

interface PollUpdate {
  status: 'update';
  pollAfter: number;
  assignment: { id: string; nonce: Uint8Array; state: string; reportUrl: string };
  release: { id: string; sequence: number | bigint | string; version: string | null };
  envelope: Uint8Array | null;
  envelopeUrl: string;
  envelopeSize: number;
  envelopeSha256: string;
  payloads: { component: number; kind: 'full' | 'delta'; sha256: string; size: number; url: string; from?: string; to?: string }[];
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A byte count a server may name: a non-negative safe integer. */
const isSize = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Errors that say nothing about the update itself (retry later, or reboot), never a refusal. */
const isTransient = (e: unknown): boolean =>
  e instanceof HttpError || isUpdateError(e, 'NETWORK_ERROR') || isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED');

export class UpdateAgent {
  readonly dev: Device;
  readonly nvm: AgentNvm;
  readonly http: DeviceTransport;
  readonly radio: RadioProfile;
  private token: string | undefined;
  private etag: string | undefined;
  private readonly key: SoftwareSigningKey;
  private readonly secret: Uint8Array;
  private sigVerifications = 0;
  private powerCuts = 0;
  private linkBreaks = 0;
  private reports = 0;
  private peakRam = 0;
  private readonly base: { erases: number; writes: number };
  private downloadAttempt = 0;
  private deltaBytes = 0;
  private deltaFullEquivalent = 0;
  private updatesByDelta = 0;
  private updatesByFull = 0;
  /** The run's stop signal: a paced download stops at the next receive buffer (the snapshot on stop is then consistent). */
  private signal: AbortSignal | undefined;
  /** Last poll interval the server gave, seconds. */
  pollAfter = 60;
  /** Everything this device reported last (for the fleet view). */
  lastStatus: ReportStatus | 'idle' = 'idle';
  lastCode: string | undefined;

  constructor(readonly o: AgentOptions) {
    this.dev = o.device;
    this.nvm = o.nvm ?? new AgentNvm(o.deviceId);
    this.http = new DeviceTransport(o.server);
    this.radio = o.radio ?? RADIOS['nb-iot']!;
    const secret = this.dev.identityKey();
    if (!secret || secret.length !== 32) throw new UpdateError('KEY_MALFORMED', 'the device has no Ed25519 identity key in OTP');
    this.secret = secret;
    this.key = new SoftwareSigningKey('OKP', secret, ed.getPublicKey(secret), -8);
    const s = this.dev.flash.stats;
    this.base = { erases: s.erases, writes: s.writes };
  }

  get classId(): string {
    return this.o.classId ?? uuidToString(this.dev.identity.classId);
  }

  private wait(seconds: number, signal?: AbortSignal): Promise<void> {
    return sleep(Math.max(0, seconds * 1000 * (this.o.timeScale ?? 1)), signal);
  }

  private emit(e: AgentEvent): void {
    this.o.log?.(e);
  }

  stats(): AgentStats {
    const s = this.dev.flash.stats;
    const cost = radioCost(this.radio, this.http.bytes.rx, this.http.bytes.tx);
    this.peakRam = Math.max(this.peakRam, this.dev.ram.peak);
    return {
      bytesReceived: this.http.bytes.rx,
      bytesSent: this.http.bytes.tx,
      requests: this.http.bytes.requests,
      flashErases: s.erases - this.base.erases,
      flashWrites: s.writes - this.base.writes,
      peakRamBytes: this.peakRam,
      ramLimitBytes: this.dev.ram.limit,
      signatureVerifications: this.sigVerifications,
      statusWrites: this.nvm.writes,
      powerCuts: this.powerCuts,
      linkBreaks: this.linkBreaks,
      reports: this.reports,
      energyMillijoules: Math.round(cost.millijoules * 10) / 10,
      secondsOnAir: Math.round(cost.secondsOnAir * 10) / 10,
      radio: this.radio.name,
      deltaBytes: this.deltaBytes,
      deltaFullEquivalent: this.deltaFullEquivalent,
      updatesByDelta: this.updatesByDelta,
      updatesByFull: this.updatesByFull,
    };
  }

  // ------------------------------------------------------------------ power

  /** Power on (or after a cut): the bootloader runs to a verified image; RAM state is gone. */
  async powerOn(): Promise<void> {
    this.token = undefined;
    this.etag = undefined;
    for (let i = 0; i < 8; i++) {
      try {
        await this.dev.boot();
        this.sigVerifications++;
        return;
      } catch (e) {
        if (isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED')) continue;
        throw e;
      }
    }
    throw new UpdateError('NO_BOOTABLE_IMAGE', 'the device did not boot after 8 power-ons');
  }

  private async powerCycle(): Promise<void> {
    this.powerCuts++;
    this.peakRam = Math.max(this.peakRam, this.dev.ram.peak);
    this.emit({ kind: 'power-cut', deviceId: this.o.deviceId });
    this.dev.faults.arm(undefined);
    await this.powerOn();
  }

  // ------------------------------------------------------------------ protocol

  private async enroll(): Promise<string> {
    if (this.token) return this.token;
    const c = await this.http.call('POST', '/device/v1/auth/challenge', { body: { deviceId: this.o.deviceId } });
    const challenge = c.body?.['challenge'];
    if (!(challenge instanceof Uint8Array)) throw new UpdateError('NETWORK_ERROR', 'challenge answer without a challenge');
    // The server's auth message: CBOR ["suit-device-auth-v1", deviceId, challenge], signed with the identity key.
    const sig = ed.sign(encodeCbor(['suit-device-auth-v1', this.o.deviceId, challenge]), this.secret);
    const t = await this.http.call('POST', '/device/v1/auth/token', { body: { deviceId: this.o.deviceId, challenge, signature: sig } });
    const token = t.body?.['token'];
    if (typeof token !== 'string') throw new UpdateError('NETWORK_ERROR', 'token answer without a token');
    this.token = token;
    this.emit({ kind: 'enrolled', deviceId: this.o.deviceId });
    return token;
  }

  /** A request with the device token; a 401 re-enrolls once. */
  private async authed<T>(fn: (token: string) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.enroll());
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) {
        this.token = undefined;
        return fn(await this.enroll());
      }
      throw e;
    }
  }

  private report(r: AgentRecord, status: ReportStatus, code?: ErrorCode): Promise<void> {
    const failure = status === 'failed' || (status === 'reverted' && code !== undefined);
    const rep: SuitReport = {
      reference: { uri: `urn:suit-fleet:release:${r.releaseId}`, digest: { alg: -16, bytes: fromHex(r.targetDigest) } },
      records: [],
      result: failure
        ? { code: ERRORS[code ?? 'INTERNAL'].report, reason: 11, record: { manifestId: [], section: 9, offset: 0, componentIndex: 0, properties: new Map() } }
        : true,
      // The status word is signed too (update-server/device-api/reports.ts: component "suitfleet", param -70001).
      systemProperties: [{ componentId: [new TextEncoder().encode('suitfleet')], properties: new Map([[-70001, status]]) }],
    };
    const signed = signReport(rep, this.key, fromHex(r.nonce));
    return this.authed(async (token) => {
      try {
        await this.http.call('POST', r.reportUrl, { token, body: { status, ...(code ? { code } : {}), report: signed } });
      } catch (e) {
        // 410: the assignment was superseded; the report no longer counts (nothing to retry).
        if (!(e instanceof HttpError && e.status === 410)) throw e;
      }
      this.reports++;
      this.lastStatus = status;
      this.lastCode = code;
      this.emit({ kind: 'report', deviceId: this.o.deviceId, status, code, version: undefined });
    });
  }

  /** Send the report for the record's step unless it was sent already (persisted first, then posted). */
  private async owe(r: AgentRecord, status: ReportStatus, code?: ErrorCode): Promise<void> {
    if (r.reported.includes(status)) return;
    await this.report(r, status, code);
    r.reported.push(status);
    if (status === 'confirmed' || status === 'failed' || status === 'reverted') this.nvm.commit(undefined, { done: r.assignmentId });
    else this.nvm.commit(r);
  }

  // ------------------------------------------------------------------ the loop

  /** Run until `signal` aborts. Errors back off exponentially (bounded); power cuts reboot. */
  async run(signal?: AbortSignal): Promise<void> {
    this.signal = signal;
    if (!this.dev.running) await this.powerOn();
    let errors = 0;
    while (!signal?.aborted) {
      let waitS: number;
      try {
        waitS = await this.cycle();
        errors = 0;
      } catch (e) {
        if (isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED')) {
          await this.powerCycle();
          continue;
        }
        errors++;
        const retryAfter = e instanceof HttpError ? e.retryAfter : undefined;
        // Bounded retries: after maxRetries failures in a row, fall back to the idle interval.
        const backoff = errors > (this.o.maxRetries ?? 6) ? this.pollAfter : Math.min(this.pollAfter, 2 ** (errors - 1));
        // Jitter spreads the fleet; Retry-After is a floor the jitter never goes under.
        waitS = Math.max(retryAfter ?? 0, backoff * (0.75 + Math.random() * 0.5));
        this.emit({ kind: 'backoff', deviceId: this.o.deviceId, detail: `${(e as Error).message} → ${waitS.toFixed(1)} s` });
      }
      await this.wait(waitS, signal);
    }
  }

  /** One poll cycle; returns seconds to wait before the next. */
  async cycle(): Promise<number> {
    await this.reconcile();
    const info = this.dev.bootInfo();
    const q = `seq=${info.committedSequenceNumber}&digest=${info.imageDigest}&class=${this.classId}`;
    const res = await this.authed((token) => this.http.call('GET', `/device/v1/poll?${q}`, { token, ...(this.etag ? { etag: this.etag } : {}) }));
    const after = Number(res.headers.get('x-poll-after') ?? this.pollAfter);
    if (Number.isFinite(after) && after > 0) this.pollAfter = after;
    // Device-side jitter on top of the server's, so a fleet that rebooted together spreads out.
    const jitter = (s: number) => s * (0.9 + Math.random() * 0.2);
    if (res.status === 304 || !res.body) return jitter(this.pollAfter);
    const ra = res.headers.get('retry-after');
    const body = res.body as { status: string };
    if (body.status === 'paused') {
      // Kill switch: the server asks the fleet to stop updating until a time.
      this.emit({ kind: 'paused', deviceId: this.o.deviceId, detail: String((res.body as { reason?: string }).reason ?? '') });
      return jitter(this.pollAfter);
    }
    if (body.status !== 'update') {
      this.etag = res.headers.get('etag') ?? undefined;
      this.emit({ kind: 'idle', deviceId: this.o.deviceId });
      return Math.max(jitter(this.pollAfter), ra && /^\d+$/.test(ra) ? Number(ra) : 0);
    }
    this.etag = undefined;
    await this.update(res.body as unknown as PollUpdate);
    return jitter(Math.min(this.pollAfter, 2));
  }

  /**
   * After a (re)boot: finish the steps of the current record from what the bootloader says.
   *
   * From the reboot into the candidate to the confirm (or the revert after a failed self-test) the
   * agent neither waits on the network nor writes its record: the application's self-test runs first,
   * then `booted` and `confirmed` are reported back to back. So the persisted record and the
   * bootloader's state move together: a power cut (or a killed simulator) lands either before the
   * swap (record `installed`, slot pending: the next boot swaps) or after the confirm.
   */
  private async reconcile(): Promise<void> {
    const r = this.nvm.record;
    if (!r) return;
    if (r.step === 'downloading') return; // resumed when the poll names the same assignment
    if (r.step === 'staged') {
      await this.owe(r, 'installed');
      r.step = 'installed';
      this.nvm.commit(r);
    }
    if (r.step === 'installed' || r.step === 'booted') {
      if (this.dev.state.phase === 'pending') {
        await this.dev.reboot();
        this.sigVerifications += 2; // candidate at swap, then the new primary at boot
      }
      const info = this.dev.bootInfo();
      if (BigInt(r.sequence) === info.sequenceNumber && (info.trial || info.lastUpdate === 'updated')) {
        r.booted = true;
        if (info.trial) {
          const healthy = (this.o.healthCheck ?? defaultHealthCheck)(this.dev.readPrimaryImage());
          if (healthy) {
            this.dev.confirm();
            r.step = 'confirmed';
          } else {
            // The application failed its self-test: the bootloader reverts at the next boot.
            this.dev.reportHealthFailure();
            await this.dev.reboot();
            this.sigVerifications++;
            r.step = 'reverted';
            r.failCode = 'HEALTH_CHECK_FAILED';
          }
        } else r.step = 'confirmed';
      } else {
        // The bootloader refused or reverted it without our health check.
        const after = this.dev.bootInfo();
        r.step = after.lastUpdate === 'rejected' ? 'failed' : 'reverted';
        r.failCode = after.revertReason === 'health-check-failed' ? 'HEALTH_CHECK_FAILED' : (after.lastError ?? 'NO_BOOTABLE_IMAGE');
      }
      this.nvm.commit(r);
    }
    if (r.booted && r.step !== 'failed') await this.owe(r, 'booted');
    if (r.step === 'confirmed') await this.owe(r, 'confirmed');
    else if (r.step === 'reverted') await this.owe(r, 'reverted', (r.failCode as ErrorCode | undefined) ?? 'HEALTH_CHECK_FAILED');
    else if (r.step === 'failed') await this.owe(r, 'failed', (r.failCode as ErrorCode | undefined) ?? 'INTERNAL');
  }

  /** An update answer: pre-check, choose, download, stage, mark pending, then reconcile (reboot, confirm). */
  private async update(a: PollUpdate): Promise<void> {
    if (this.nvm.data.done.includes(a.assignment.id)) return;
    let r = this.nvm.record;
    if (r && r.assignmentId !== a.assignment.id) {
      // A newer assignment superseded ours: drop the old one (its staged bytes are erased on restart).
      r = undefined;
      this.nvm.commit(undefined);
    }
    const token = await this.enroll();
    const record: AgentRecord = r ?? {
      assignmentId: a.assignment.id,
      releaseId: a.release.id,
      nonce: toHex(a.assignment.nonce),
      reportUrl: a.assignment.reportUrl,
      sequence: String(a.release.sequence),
      targetDigest: '00'.repeat(32),
      step: 'downloading',
      reported: [],
    };
    // REQ.USE.MFST.PRE_CHECK, before any payload byte: envelope size (envelope area, RAM budget),
    // signature, vendor/class, sequence number, image size. A refusal is reported signed as `failed`
    // and the assignment remembered (never fetched again); transport trouble is retried instead.
    let envelope: Uint8Array;
    let envRam: Uint8Array | undefined;
    let claims: ImageClaims;
    try {
      envelope = await this.fetchEnvelope(a);
      envRam = this.dev.ram.alloc('envelope', envelope.length);
      envRam.set(envelope);
      this.sigVerifications++;
      claims = checkEnvelope(envelope, {
        anchors: this.dev.currentAnchors(),
        identity: this.dev.identity,
        committedSeq: this.dev.state.committedSeq,
        allowEqual: false,
        efuse: this.dev.efuse,
        maxImage: this.dev.layout.primary.size - this.dev.profile.envelopeArea,
      }).claims;
      // The envelope must fit the slot's envelope area, as Device.beginStage requires: a server can pad
      // a genuine envelope with unsigned members; refuse it before downloading the payload (finding F4).
      assertFits(claims.size, envelope.length, this.dev.profile.envelopeArea, this.dev.layout.primary.size);
    } catch (e) {
      if (envRam) this.dev.ram.free(envRam);
      if (!isUpdateError(e) || isTransient(e)) throw e;
      await this.refuse(record, e.code);
      return;
    }
    try {
      record.sequence = claims.seq.toString();
      record.targetDigest = toHex(claims.digest.bytes);
      if (record.step !== 'downloading') return; // already staged: reconcile finishes it
      const running = this.dev.running!;
      const current = toHex(running.digest.bytes);
      const target = toHex(claims.digest.bytes);
      const full = a.payloads.find((p) => p.kind === 'full' && p.sha256 === target);
      const deltaOffer = a.payloads.find((p) => p.kind === 'delta' && p.from === current && p.to === target);
      // A patch is only worth it below the signed image size (the server records bigger ones as useless);
      // a claim above that is not downloaded at all.
      const delta = deltaOffer && isSize(deltaOffer.size) && deltaOffer.size <= claims.size ? deltaOffer : undefined;
      let choice = record.download && [full, delta].find((p) => p && p.sha256 === record.download!.sha256);
      choice ??= (this.o.payload === 'full' ? undefined : delta) ?? full;
      if (!choice) {
        if (deltaOffer && !delta && this.o.payload !== 'full') return await this.refuse(record, 'PATCH_MALFORMED'); // only an absurd patch size
        // No payload with the signed digest: reported like any pre-check refusal, so the operator sees
        // it and the device does not poll the same broken assignment for ever.
        return await this.refuse(record, 'PAYLOAD_MISSING');
      }
      // The server's size claim for a full image must be the signed size: refused without downloading.
      if (choice.kind === 'full' && choice.size !== claims.size) {
        return await this.refuse(record, isSize(choice.size) && choice.size < claims.size ? 'PAYLOAD_DIGEST_MISMATCH' : 'PATCH_OUTPUT_OVERFLOW');
      }
      if (!record.download || record.download.sha256 !== choice.sha256) {
        record.download = { kind: choice.kind, sha256: choice.sha256, url: choice.url, size: choice.size, offset: 0 };
        this.nvm.commit(record);
      }
      await this.owe(record, 'downloading');
      try {
        await this.downloadAndStage(record, envelope, claims, token);
      } catch (e) {
        if (isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED') || isUpdateError(e, 'NETWORK_ERROR') || e instanceof HttpError) throw e;
        const code = isUpdateError(e) ? e.code : 'INTERNAL';
        if (record.download?.kind === 'delta' && full) {
          // A bad patch (or one for another precursor) costs a retry with the full image, not the update.
          record.download = { kind: 'full', sha256: full.sha256, url: full.url, size: full.size, offset: 0 };
          this.nvm.commit(record);
          return;
        }
        record.step = 'failed';
        record.failCode = code;
        delete record.download;
        this.nvm.commit(record);
        await this.owe(record, 'failed', code);
        return;
      }
    } finally {
      this.dev.ram.free(envRam);
    }
    await this.reconcile();
  }

  /** A pre-check failure: persisted, reported signed as `failed` with its code, the assignment remembered. */
  private async refuse(record: AgentRecord, code: ErrorCode): Promise<void> {
    this.emit({ kind: 'rejected', deviceId: this.o.deviceId, detail: code });
    record.step = 'failed';
    record.failCode = code;
    delete record.download;
    this.nvm.commit(record);
    await this.owe(record, 'failed', code);
  }

  /**
   * The envelope, inline or by URL. By URL, the size the server names is bounded by the slot's envelope
   * area before anything is fetched (INPUT_TOO_LARGE), and the download takes at most that many bytes
   * (finding F1). The sha256 the server names is only a transport check; the signature decides.
   */
  private async fetchEnvelope(a: PollUpdate): Promise<Uint8Array> {
    let envelope = a.envelope;
    if (!envelope) {
      const bound = this.dev.profile.envelopeArea - SLOT_HEADER_LEN;
      const size = a.envelopeSize;
      if (!isSize(size) || size === 0 || size > bound) {
        throw new UpdateError('INPUT_TOO_LARGE', `the server names an envelope of ${String(size)} B; the envelope area holds ${bound} B`);
      }
      const buf = new Uint8Array(size);
      let n = 0;
      await this.authed((t) => {
        n = 0;
        return this.http.download(a.envelopeUrl, t, 0, size, (b) => {
          // The transport hands on no more than `size`; this is the belt to its braces.
          if (n + b.length > size) throw new UpdateError('INPUT_TOO_LARGE', 'envelope longer than announced');
          buf.set(b, n);
          n += b.length;
        }, { chunk: 1024 });
      });
      envelope = buf.subarray(0, n);
    }
    if (digestHex(envelope) !== a.envelopeSha256) throw new UpdateError('NETWORK_ERROR', 'envelope bytes do not match the digest the server named');
    return envelope;
  }

  /** Radio pacing of a download: the receive buffer's time on air; a stopped fleet breaks the link. */
  private async pace(bytes: number): Promise<void> {
    await this.wait(radioCost(this.radio, bytes, 0).secondsOnAir, this.signal);
    if (this.signal?.aborted) throw new UpdateError('NETWORK_ERROR', 'stopped');
  }

  private async downloadAndStage(r: AgentRecord, envelope: Uint8Array, claims: ImageClaims, _token: string): Promise<void> {
    const d = r.download!;
    const fullSize = claims.size;
    const w = new CandidateWriter(this.dev, {
      kind: d.kind,
      envelope,
      claims,
      saveEvery: Math.max(1, Math.round(4096 / this.dev.profile.stagePage)),
      save: (p) => {
        d.offset = p.offset;
        if (p.decoder) d.decoder = p.decoder;
        this.nvm.commit(r);
      },
      ...(d.offset > 0 || d.decoder ? { resume: { offset: d.offset, ...(d.decoder ? { decoder: d.decoder } : {}) } } : {}),
    });
    if (w.restarted) {
      d.offset = 0;
      delete d.decoder;
    }
    const rx = this.o.rxBuffer ?? Math.min(1024, this.dev.profile.stagePage);
    const buf = this.dev.ram.alloc('rx buffer', rx);
    try {
      const cut = this.o.faults?.powerCut?.({ offset: w.offset, size: d.size, kind: d.kind });
      if (cut !== undefined) this.dev.faults.arm({ at: this.dev.faults.opIndex + cut, mode: 'torn', seed: cut });
      while (w.offset < d.size) {
        const linkCut = this.o.faults?.linkCut?.({ attempt: this.downloadAttempt++, offset: w.offset, size: d.size });
        const start = w.offset;
        try {
          await this.authed((t) =>
            this.http.download(d.url, t, start, d.size, (b) => {
              if (d.kind === 'delta') this.deltaBytes += b.length;
              buf.set(b);
              w.push(buf.subarray(0, b.length));
            }, { chunk: rx, ...(linkCut !== undefined ? { cutAfter: linkCut } : {}), etag: `"${d.sha256}"`, ...(this.o.airtime ? { pace: (n: number) => this.pace(n) } : {}) }),
          );
        } catch (e) {
          if (isUpdateError(e, 'NETWORK_ERROR') && !(e instanceof HttpError) && !this.signal?.aborted) {
            // Broken link: the writer is still in RAM; resume with Range from exactly where it is.
            this.linkBreaks++;
            this.emit({ kind: 'link-broken', deviceId: this.o.deviceId, detail: `at ${w.offset}/${d.size}` });
            if (this.linkBreaks % 8 === 7) throw e;
            continue;
          }
          throw e;
        }
        this.emit({ kind: 'download', deviceId: this.o.deviceId, done: w.offset, total: d.size, payload: d.kind });
      }
      this.dev.ram.free(buf);
      await w.finish();
      this.sigVerifications++;
      if (d.kind === 'delta') {
        this.updatesByDelta++;
        this.deltaFullEquivalent += fullSize;
      } else this.updatesByFull++;
      this.dev.faults.arm(undefined);
    } finally {
      this.dev.ram.free(buf);
      w.release();
      this.peakRam = Math.max(this.peakRam, this.dev.ram.peak);
    }
    delete r.download;
    r.step = 'staged';
    this.nvm.commit(r);
  }
}
