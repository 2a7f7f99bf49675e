/**
 * A simulated device: flash + OTP + eFuses + RAM budget, the bootloader that runs at every power-on,
 * and the application-side API (stage, confirm, boot info, anchor updates).
 *
 * Boot state machine (docs/bootloader.md has the diagram). Every transition is one journal record,
 * written only after the flash work it describes is complete, so a cut anywhere resumes correctly:
 *
 *   idle ──stage+mark──▶ pending ──verify ok──▶ swapping ──done──▶ trial ──confirm──▶ idle (counters advanced)
 *                          │ verify fails                            │ not confirmed / N boots / health failure
 *                          ▼                                         ▼
 *                        idle (rejected)                           reverting ──done──▶ idle (reverted, why)
 *   overwrite-only:  pending ──verify ok──▶ overwriting ──done──▶ idle (counters advanced, no revert possible)
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UpdateError, isUpdateError, codeForReportByte, toHex, verifyAnchorChain, type ErrorCode } from '../manifest/index.js';
import { anchorFingerprint, currentAnchors, decodeStoredAnchors, encodeCheckpoint, storedAnchors, type DeviceAnchorSet } from './anchors.js';
import { FaultInjector, Flash, type EraseValue, type FlashSnapshot } from './flash.js';
import { Journal } from './journal.js';
import { EfuseCounter, Otp } from './otp.js';
import { geometryOf, getProfile, layoutOf, type Layout, type Profile } from './profiles.js';
import { RamBudget } from './ram.js';
import { SLOT_HEADER_LEN, assertFits, contentLength, encodeSlotHeader, readSlotHeader } from './slot.js';
import { ANCHORS_KEY, STATE_KEY, decodeState, encodeState, initialState, type BootState, type RevertReason } from './state.js';
import { eraseStatus, overwrite, swapRevert, swapUpgrade, type MovePlan } from './swap.js';
import { checkEnvelope, verifySlot, type DeviceIdentity, type PolicyContext, type VerifiedImage } from './verify.js';
import { Stager, type StageOptions } from './staging.js';

export interface DeviceConfig {
  profile: string | Profile;
  eraseValue?: EraseValue;
  programMode?: 'strict' | 'nor';
  identity: DeviceIdentity;
  /** Root trust anchors: the initial signed anchor statement (manifest signAnchorStatement), burnt into OTP. */
  anchors: Uint8Array;
  /** Device identity private key bytes, burnt into OTP (never readable by the app in a real part). */
  identityKey?: Uint8Array;
  /** Override the profile's trial boots (N failed attempts before revert). */
  trialBoots?: number;
}

export interface BootInfo {
  /** Which slot runs (always the primary: images execute in place there). */
  runningSlot: 'primary';
  /** true while the running image is on trial (not yet confirmed). */
  trial: boolean;
  version: number[] | undefined;
  sequenceNumber: bigint;
  securityEpoch: number;
  imageSize: number;
  imageDigest: string;
  signers: string[];
  /** Anti-rollback counter (committed sequence number) and eFuse security counter. */
  committedSequenceNumber: bigint;
  securityCounter: number;
  /** Outcome of the last update attempt and, for a revert or rejection, why. */
  lastUpdate: 'none' | 'updated' | 'reverted' | 'rejected';
  revertReason: RevertReason;
  lastError: ErrorCode | undefined;
  trialAttempts: number;
  anchorsVersion: number;
  bootCount: number;
}

export interface DeviceStats {
  ops: number;
  erases: number;
  writes: number;
  bytesWritten: number;
  bytesRead: number;
  elapsedMs: number;
  maxEraseCount: number;
  eraseCounts: number[];
  ramPeak: number;
  ramLimit: number;
  journalCompactions: number;
}

/** Flash, fuses and the RAM-side view of the running application (a sweep resumes "while the app runs"). */
export interface DeviceSnapshot {
  flash: FlashSnapshot;
  efuse: number;
  opIndex: number;
  running: VerifiedImage | undefined;
  bootCount: number;
}

const MAX_TRANSITIONS = 16;
/** OTP field of the anchor checkpoint's MAC key. */
const ANCHOR_MAC_KEY = 'anchor-mac-key';

export class Device {
  readonly profile: Profile;
  readonly layout: Layout;
  readonly faults: FaultInjector;
  readonly flash: Flash;
  readonly otp: Otp;
  readonly efuse: EfuseCounter;
  readonly ram: RamBudget;
  readonly identity: DeviceIdentity;
  readonly trialBoots: number;
  private readonly journal: Journal;
  private readonly config: DeviceConfig;
  private readonly rootStatement: Uint8Array;
  private anchors: DeviceAnchorSet;
  /** Device-unique OTP secret that authenticates the stored anchor checkpoint (bootloader-only, like a HUK). */
  private readonly anchorMacKey: Uint8Array;
  state: BootState = initialState();
  /** The verified image that is running (undefined before boot or after a failed boot). */
  running: VerifiedImage | undefined;
  bootCount = 0;

  constructor(config: DeviceConfig, opts: { otp?: Otp } = {}) {
    this.config = config;
    this.profile = typeof config.profile === 'string' ? getProfile(config.profile) : config.profile;
    this.layout = layoutOf(this.profile);
    this.faults = new FaultInjector();
    this.flash = new Flash(geometryOf(this.profile, config.eraseValue ?? 0xff, config.programMode ?? 'strict'), this.faults);
    this.efuse = new EfuseCounter(this.profile.efuseBits, this.faults);
    this.ram = new RamBudget(this.profile.ramBytes);
    this.identity = config.identity;
    this.trialBoots = config.trialBoots ?? this.profile.trialBoots;
    this.journal = new Journal(this.flash, this.layout.journal);
    if (opts.otp) this.otp = opts.otp;
    else {
      this.otp = new Otp();
      this.otp.write('anchors', config.anchors);
      this.otp.write('vendor-id', config.identity.vendorId);
      this.otp.write('class-id', config.identity.classId);
      if (config.identity.deviceId) this.otp.write('device-id', config.identity.deviceId);
      if (config.identityKey) this.otp.write('identity-key', config.identityKey);
    }
    if (this.otp.read(ANCHOR_MAC_KEY) === undefined) this.otp.write(ANCHOR_MAC_KEY, new Uint8Array(randomBytes(32)));
    this.anchorMacKey = this.otp.read(ANCHOR_MAC_KEY)!;
    this.rootStatement = this.otp.read('anchors')!;
    this.anchors = currentAnchors(this.rootStatement, []);
  }

  // ------------------------------------------------------------------ geometry helpers

  private get unitSize(): number {
    return this.profile.slotUnit;
  }
  private get capacity(): number {
    return this.layout.primary.size;
  }
  /** Where a staged candidate starts in the secondary (one unit up for swap-offset). */
  get stagedBase(): number {
    return this.layout.secondary.offset + (this.profile.strategy === 'swap-offset' ? this.unitSize : 0);
  }
  private unitsOf(base: number): number {
    const h = readSlotHeader(this.flash, base, this.profile.envelopeArea, this.capacity);
    return h ? Math.ceil(contentLength(h, this.profile.envelopeArea) / this.unitSize) : 0;
  }
  private plan(k: number): MovePlan {
    return { primary: this.layout.primary.units, secondary: this.layout.secondary.units, status: this.layout.status, k, copyBuffer: this.profile.copyBuffer };
  }
  private policy(allowEqual: boolean, anchors = this.anchors): PolicyContext {
    return {
      anchors,
      identity: this.identity,
      committedSeq: this.state.committedSeq,
      allowEqual,
      efuse: this.efuse,
      maxImage: this.capacity - this.profile.envelopeArea,
    };
  }
  private hashBuffer(): number {
    return Math.min(this.profile.copyBuffer, 1024);
  }

  private loadAnchors(): DeviceAnchorSet {
    return storedAnchors(this.rootStatement, decodeStoredAnchors(this.journal.get(ANCHORS_KEY)), this.anchorMacKey);
  }

  private put(s: BootState): void {
    this.journal.put(STATE_KEY, encodeState(s));
    this.state = s;
  }

  // ------------------------------------------------------------------ manufacturing

  /**
   * Factory programming: write a signed image straight into the primary slot (no faults, like a
   * programmer on the production line) and commit its counters.
   */
  async factoryInstall(envelope: Uint8Array, image: Uint8Array): Promise<VerifiedImage> {
    this.faults.powerOn();
    this.journal.mount();
    this.state = decodeState(this.journal.get(STATE_KEY));
    const { claims } = checkEnvelope(envelope, this.policy(true));
    const base = this.layout.primary.offset;
    const area = this.profile.envelopeArea;
    const a = this.flash.writeAlign;
    const total = Math.ceil(contentLength({ envelopeLength: envelope.length, imageLength: image.length }, area) / this.unitSize);
    for (let u = 0; u < total; u++) {
      const unit = this.layout.primary.units[u]!;
      this.flash.erase(unit.offset, unit.size);
      this.flash.kickWatchdog(); // a production programmer services the watchdog between sectors too
    }
    const pad = (b: Uint8Array): Uint8Array => {
      const out = new Uint8Array(Math.ceil(b.length / a) * a).fill(this.flash.eraseValue);
      out.set(b);
      return out;
    };
    this.flash.write(base + SLOT_HEADER_LEN, pad(envelope));
    this.flash.kickWatchdog();
    if (image.length > 0) this.flash.write(base + area, pad(image));
    this.flash.kickWatchdog();
    this.flash.write(base, encodeSlotHeader({ envelopeLength: envelope.length, imageLength: image.length }, this.flash.eraseValue));
    const v = await verifySlot(this.flash, this.ram, this.primaryLoc(), this.policy(true), { invoke: false, hashBuffer: this.hashBuffer() });
    if (claims.seq !== v.seq) throw new UpdateError('INTERNAL', 'factory image changed');
    this.put({ ...initialState(), committedSeq: v.seq, committedEpoch: v.epoch });
    this.efuse.advanceTo(v.epoch);
    return v;
  }

  private primaryLoc() {
    return { base: this.layout.primary.offset, envelopeArea: this.profile.envelopeArea, capacity: this.capacity };
  }
  private stagedLoc() {
    return { base: this.stagedBase, envelopeArea: this.profile.envelopeArea, capacity: this.capacity };
  }

  // ------------------------------------------------------------------ the bootloader

  /**
   * Power on and run the bootloader until it hands over to a verified image. Throws POWER_LOSS if the
   * armed fault plan cuts power (call boot() again: that is the next power-on), NO_BOOTABLE_IMAGE if
   * no verified image can be booted (a brick).
   */
  async boot(): Promise<BootInfo> {
    this.faults.powerOn();
    this.ram.clear();
    this.running = undefined;
    this.flash.kickWatchdog();
    this.journal.mount();
    this.state = decodeState(this.journal.get(STATE_KEY));
    this.anchors = this.loadAnchors();
    // The eFuse epoch trails the committed record if power was cut between the two: catch up first.
    if (this.efuse.value < this.state.committedEpoch) this.efuse.advanceTo(this.state.committedEpoch);

    for (let t = 0; t < MAX_TRANSITIONS; t++) {
      const s = this.state;
      switch (s.phase) {
        case 'idle': {
          this.running = await verifySlot(this.flash, this.ram, this.primaryLoc(), this.policy(true), { invoke: true, hashBuffer: this.hashBuffer() });
          this.bootCount++;
          return this.bootInfo();
        }
        case 'pending': {
          let cand: VerifiedImage;
          try {
            cand = await verifySlot(this.flash, this.ram, this.stagedLoc(), this.policy(false), { invoke: false, hashBuffer: this.hashBuffer() });
          } catch (e) {
            if (isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED')) throw e;
            const err = isUpdateError(e) ? e : new UpdateError('INTERNAL', String(e));
            this.put({ ...s, phase: 'idle', lastResult: 'rejected', revertReason: 'none', lastError: err.reportCode });
            continue;
          }
          const newUnits = Math.ceil(contentLength(cand.header, this.profile.envelopeArea) / this.unitSize);
          if (this.profile.strategy === 'overwrite') {
            eraseStatus(this.flash, this.plan(newUnits));
            this.put({ ...s, phase: 'overwriting', units: newUnits, candidateSeq: cand.seq, candidateEpoch: cand.epoch });
          } else {
            const k = Math.max(newUnits, this.unitsOf(this.layout.primary.offset));
            eraseStatus(this.flash, this.plan(k));
            this.put({ ...s, phase: 'swapping', units: k, attempts: 0, candidateSeq: cand.seq, candidateEpoch: cand.epoch });
          }
          continue;
        }
        case 'swapping': {
          swapUpgrade(this.flash, this.ram, this.plan(s.units));
          this.put({ ...s, phase: 'trial', attempts: 0, revertReason: 'none' });
          continue;
        }
        case 'overwriting': {
          overwrite(this.flash, this.ram, this.plan(s.units));
          // No old image remains to fall back to: the install itself is the commit point.
          this.put({ ...s, phase: 'idle', committedSeq: s.candidateSeq, committedEpoch: s.candidateEpoch, lastResult: 'updated', revertReason: 'none', lastError: 0 });
          this.efuse.advanceTo(s.candidateEpoch);
          continue;
        }
        case 'trial': {
          if (s.attempts >= this.trialBoots || s.revertReason === 'health-check-failed') {
            const reason: RevertReason =
              s.revertReason !== 'none' ? s.revertReason : this.trialBoots === 1 ? 'not-confirmed' : 'boot-attempts-exhausted';
            eraseStatus(this.flash, this.plan(s.units));
            this.put({ ...s, phase: 'reverting', revertReason: reason });
            continue;
          }
          this.put({ ...s, attempts: s.attempts + 1 });
          try {
            this.running = await verifySlot(this.flash, this.ram, this.primaryLoc(), this.policy(true), { invoke: true, hashBuffer: this.hashBuffer() });
          } catch (e) {
            if (isUpdateError(e, 'POWER_LOSS') || isUpdateError(e, 'WATCHDOG_EXPIRED')) throw e;
            eraseStatus(this.flash, this.plan(s.units));
            this.put({ ...this.state, phase: 'reverting', revertReason: 'verification-failed', lastError: isUpdateError(e) ? e.reportCode : 0xff });
            continue;
          }
          this.bootCount++;
          return this.bootInfo();
        }
        case 'reverting': {
          swapRevert(this.flash, this.ram, this.plan(s.units));
          this.put({ ...s, phase: 'idle', attempts: 0, lastResult: 'reverted' });
          continue;
        }
      }
    }
    throw new UpdateError('NO_BOOTABLE_IMAGE', 'bootloader did not settle');
  }

  /** Alias: a reboot is a power-on. */
  reboot(): Promise<BootInfo> {
    return this.boot();
  }

  // ------------------------------------------------------------------ application API

  private requireRunning(): VerifiedImage {
    if (!this.running) throw new UpdateError('UPDATE_STATE_INVALID', 'no application is running (boot first)');
    return this.running;
  }

  bootInfo(): BootInfo {
    const r = this.requireRunning();
    const s = this.state;
    return {
      runningSlot: 'primary',
      trial: s.phase === 'trial',
      version: r.version,
      sequenceNumber: r.seq,
      securityEpoch: r.epoch,
      imageSize: r.size,
      imageDigest: toHex(r.digest.bytes),
      signers: r.signers,
      committedSequenceNumber: s.committedSeq,
      securityCounter: this.efuse.value,
      lastUpdate: s.lastResult,
      revertReason: s.revertReason,
      lastError: s.lastError ? codeForReportByte(s.lastError) : undefined,
      trialAttempts: s.attempts,
      anchorsVersion: this.anchors.version,
      bootCount: this.bootCount,
    };
  }

  /**
   * The application confirms the running trial image after its self-test. One journal record commits
   * the new anti-rollback counter and security epoch together with leaving trial; the eFuse burn
   * follows (and is caught up at the next boot if power fails in between). Idempotent.
   */
  confirm(): void {
    this.requireRunning();
    const s = this.state;
    if (s.phase !== 'trial') return;
    this.put({ ...s, phase: 'idle', attempts: 0, committedSeq: s.candidateSeq, committedEpoch: s.candidateEpoch, lastResult: 'updated', revertReason: 'none', lastError: 0 });
    this.efuse.advanceTo(s.candidateEpoch);
  }

  /** The application failed its self-test: the next boot reverts (reason health-check-failed). */
  reportHealthFailure(): void {
    this.requireRunning();
    const s = this.state;
    if (s.phase !== 'trial') throw new UpdateError('UPDATE_STATE_INVALID', 'no trial image to reject');
    this.put({ ...s, revertReason: 'health-check-failed', lastError: 0x5b });
  }

  /**
   * Begin staging a candidate into the secondary slot: the envelope is verified first (signature,
   * vendor/class, sequence number > committed, size) and nothing is written if it fails.
   */
  beginStage(envelope: Uint8Array, opts: StageOptions = {}): Stager {
    this.requireRunning();
    const s = this.state;
    if (s.phase === 'pending') this.put({ ...s, phase: 'idle' });
    else if (s.phase !== 'idle') throw new UpdateError('UPDATE_STATE_INVALID', `cannot stage while ${s.phase} (confirm the running image first)`);
    const { claims } = checkEnvelope(envelope, this.policy(false));
    // The envelope must fit its area: a server can pad a genuine envelope with unsigned members
    // (integrated payloads, foreign auth blocks); refuse it before any flash is touched.
    assertFits(claims.size, envelope.length, this.profile.envelopeArea, this.capacity);
    return new Stager(
      {
        flash: this.flash,
        ram: this.ram,
        profile: this.profile,
        base: this.stagedBase,
        secondaryUnits: this.layout.secondary.units.slice(this.profile.strategy === 'swap-offset' ? 1 : 0),
        primaryImageBase: this.layout.primary.offset + this.profile.envelopeArea,
        running: this.running!,
        markPending: async () => this.markPending(),
      },
      envelope,
      claims,
      opts,
    );
  }

  /** Stage envelope + full image (or delta patch) from byte sources, in bounded chunks. */
  async stage(
    envelope: Uint8Array,
    payload: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    opts: StageOptions = {},
  ): Promise<void> {
    const st = this.beginStage(envelope, opts);
    const chunk = this.profile.stagePage;
    if (payload instanceof Uint8Array) {
      for (let i = 0; i < payload.length; i += chunk) st.push(payload.subarray(i, i + chunk));
    } else {
      for await (const c of payload as AsyncIterable<Uint8Array>) st.push(c);
    }
    await st.finish();
  }

  /**
   * Re-verify the candidate slot from flash (envelope signature, digest and size of the image as
   * written) and only then mark it pending. For writers that fill the candidate slot themselves and
   * resume across power cuts (the update agent); `stage()` calls it too.
   */
  async markPending(): Promise<VerifiedImage> {
    const v = await verifySlot(this.flash, this.ram, this.stagedLoc(), this.policy(false), { invoke: false, hashBuffer: this.hashBuffer() });
    this.put({ ...this.state, phase: 'pending', candidateSeq: v.seq, candidateEpoch: v.epoch });
    return v;
  }

  /** Cancel a staged (pending, not yet installed) candidate. */
  cancelPending(): void {
    if (this.state.phase === 'pending') this.put({ ...this.state, phase: 'idle' });
  }

  /**
   * Advance the trust anchors with signed anchor statements (rotation, revocation, handover). The
   * whole new chain must verify from the OTP root; the running image must still verify under the new
   * set (no self-bricking revocation) and no update may be in flight (the revert image must stay valid).
   */
  updateAnchors(statements: Uint8Array[]): DeviceAnchorSet {
    this.requireRunning();
    if (this.state.phase !== 'idle') throw new UpdateError('UPDATE_STATE_INVALID', `cannot change anchors while ${this.state.phase}`);
    const last = statements[statements.length - 1];
    if (last === undefined) return this.anchors;
    // The current set is trusted (verified from the OTP root or MAC-checked at boot): verify the new
    // statements from it, then keep only the newest verified set (bounded storage, docs/longevity.md).
    const next = verifyAnchorChain(this.anchors, statements);
    try {
      checkEnvelope(this.running!.envelopeBytes, this.policy(true, next));
    } catch (e) {
      throw new UpdateError('UPDATE_STATE_INVALID', 'the new anchors would not verify the running image; install an image signed by the new keys first', { cause: e });
    }
    this.journal.put(ANCHORS_KEY, encodeCheckpoint(last, this.anchorMacKey));
    this.anchors = next;
    return next;
  }

  /**
   * Test hook: rewrite the current state record until a record of `payloadLength` no longer fits the
   * journal's active unit, so the next such record forces a compaction (used by the fault sweep).
   */
  fillJournal(payloadLength: number): void {
    while (this.journal.freeBytes >= this.journal.recordBytes(payloadLength)) this.put({ ...this.state });
  }

  /** Journal bytes the stored anchor record occupies (0 while the OTP root is current). */
  anchorStorageBytes(): number {
    const v = this.journal.get(ANCHORS_KEY);
    return v === undefined ? 0 : this.journal.recordBytes(v.length);
  }

  currentAnchors(): DeviceAnchorSet {
    return this.anchors;
  }
  anchorsFingerprint(): string {
    return anchorFingerprint(this.anchors);
  }

  /** The running image's bytes (what the CPU executes). */
  readPrimaryImage(): Uint8Array {
    const h = readSlotHeader(this.flash, this.layout.primary.offset, this.profile.envelopeArea, this.capacity);
    if (!h) throw new UpdateError('NO_BOOTABLE_IMAGE', 'primary slot is empty');
    return this.flash.read(this.layout.primary.offset + this.profile.envelopeArea, h.imageLength);
  }

  stats(): DeviceStats {
    const f = this.flash;
    return {
      ops: this.faults.opIndex,
      erases: f.stats.erases,
      writes: f.stats.writes,
      bytesWritten: f.stats.bytesWritten,
      bytesRead: f.stats.bytesRead,
      elapsedMs: Math.round(f.stats.elapsedMs * 1000) / 1000,
      maxEraseCount: f.maxEraseCount(),
      eraseCounts: Array.from(f.eraseCounts),
      ramPeak: this.ram.peak,
      ramLimit: this.ram.limit,
      journalCompactions: this.journal.compactions,
    };
  }

  // ------------------------------------------------------------------ snapshots and persistence

  snapshot(): DeviceSnapshot {
    return { flash: this.flash.snapshot(), efuse: this.efuse.value, opIndex: this.faults.opIndex, running: this.running, bootCount: this.bootCount };
  }

  restore(s: DeviceSnapshot): void {
    this.flash.restore(s.flash);
    this.efuse.load(s.efuse);
    this.faults.opIndex = s.opIndex;
    this.faults.arm(undefined);
    this.faults.powerOn();
    this.ram.clear();
    this.journal.mount();
    this.state = decodeState(this.journal.get(STATE_KEY));
    this.anchors = this.loadAnchors();
    this.running = s.running;
    this.bootCount = s.bootCount;
  }

  /** Persist flash, OTP, fuses and wear to a directory (a fleet that survives restarts). */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'flash.bin'), this.flash.data);
    const meta = {
      v: 1,
      profile: this.profile.name,
      eraseValue: this.flash.eraseValue,
      programMode: this.flash.programMode,
      trialBoots: this.trialBoots,
      identity: {
        vendorId: toHex(this.identity.vendorId),
        classId: toHex(this.identity.classId),
        ...(this.identity.deviceId ? { deviceId: toHex(this.identity.deviceId) } : {}),
      },
      otp: this.otp.toJSON(),
      efuse: this.efuse.value,
      eraseCounts: Array.from(this.flash.eraseCounts),
      stats: this.flash.stats,
      opIndex: this.faults.opIndex,
      bootCount: this.bootCount,
    };
    writeFileSync(join(dir, 'device.json'), JSON.stringify(meta, null, 2));
  }

  static load(dir: string): Device {
    const metaPath = join(dir, 'device.json');
    if (!existsSync(metaPath)) throw new UpdateError('FILE_NOT_FOUND', `no device in ${dir}`);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as {
      profile: string;
      eraseValue: EraseValue;
      programMode: 'strict' | 'nor';
      trialBoots: number;
      identity: { vendorId: string; classId: string; deviceId?: string };
      otp: Record<string, string>;
      efuse: number;
      eraseCounts: number[];
      stats: Flash['stats'];
      opIndex: number;
      bootCount: number;
    };
    const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
    const otp = Otp.fromJSON(meta.otp);
    const identity: DeviceIdentity = {
      vendorId: hex(meta.identity.vendorId),
      classId: hex(meta.identity.classId),
      ...(meta.identity.deviceId ? { deviceId: hex(meta.identity.deviceId) } : {}),
    };
    const dev = new Device(
      { profile: meta.profile, eraseValue: meta.eraseValue, programMode: meta.programMode, trialBoots: meta.trialBoots, identity, anchors: otp.read('anchors')! },
      { otp },
    );
    const data = readFileSync(join(dir, 'flash.bin'));
    if (data.length !== dev.flash.size) throw new UpdateError('IO_ERROR', 'flash image size does not match the profile');
    dev.flash.data.set(data);
    dev.flash.eraseCounts.set(meta.eraseCounts);
    dev.flash.stats = { ...meta.stats };
    dev.efuse.load(meta.efuse);
    dev.faults.opIndex = meta.opIndex;
    dev.bootCount = meta.bootCount;
    return dev;
  }

  /** The identity private key from OTP (for the network agent's device authentication). */
  identityKey(): Uint8Array | undefined {
    return this.otp.read('identity-key');
  }
}
