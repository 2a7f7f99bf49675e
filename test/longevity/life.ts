/**
 * One device's 25-year life on one flash profile, driven through the Device API (the bootloader and
 * the application calls a real agent would make), with a hook for the steps that go through a real
 * server + agent. Every step asserts what the device did; the figures are collected for the report.
 */
import { isUpdateError, type ErrorCode } from '../../manifest/index.js';
import { encodeDelta } from '../../delta/index.js';
import { Device, layoutOf, type Profile } from '../../device-bootloader-sim/index.js';
import { POWER_CUTS, type Release, type World } from './world.js';

export interface LifeFigures {
  profile: string;
  updates: number;
  deltas: number;
  fulls: number;
  reverted: number;
  /** Bad builds that stayed installed (overwrite-only: no revert). */
  badCommitted: number;
  powerCuts: number;
  anchorUpdates: number;
  anchorsVersion: number;
  committedSeq: bigint;
  maxErasesSlot: number;
  maxErasesJournal: number;
  maxErasesStatus: number;
  endurance: number;
  journalCompactions: number;
  ramPeak: number;
  ramLimit: number;
  efuseUsed: number;
  efuseBits: number;
  maxEnvelope: number;
  envelopeArea: number;
  /** Journal bytes the anchor record took after each anchor update (in order). */
  anchorRecordBytes: number[];
  journalUnit: number;
  bootCount: number;
  refusals: Record<string, string>;
}

export type Step = (dev: Device, r: Release) => Promise<void>;

const deltaCache = new Map<string, Uint8Array>();
function deltaFor(from: Uint8Array, r: Release): Uint8Array {
  const key = `${r.quarter}:${Buffer.from(from.subarray(0, 64)).toString('hex')}:${from.length}`;
  let p = deltaCache.get(key);
  if (!p) {
    p = encodeDelta(from, r.image);
    deltaCache.set(key, p);
  }
  return p;
}

export class LifeError extends Error {}
const check = (ok: boolean, msg: string): void => {
  if (!ok) throw new LifeError(msg);
};

/** Power on until the bootloader hands over (a cut during recovery is just another power-on). */
export async function bootUp(dev: Device): Promise<void> {
  dev.faults.arm(undefined);
  for (let i = 0; i < 6; i++) {
    try {
      await dev.boot();
      return;
    } catch (e) {
      if (!isUpdateError(e, 'POWER_LOSS')) throw e;
    }
  }
  throw new LifeError('did not boot after 6 power-ons');
}

export async function refusal(fn: () => unknown): Promise<ErrorCode | 'accepted'> {
  try {
    await fn();
    return 'accepted';
  } catch (e) {
    if (isUpdateError(e)) return e.code;
    throw e;
  }
}

/**
 * Install one release through the Device API: stage (delta or full), reboot (swap + trial boot),
 * confirm, or report a failed self-test and reboot (revert). `cut` arms one power cut in the staging
 * or in the swap; the device is then powered on again and the update finished.
 */
export async function installViaDevice(dev: Device, r: Release, o: { delta: boolean; cut?: 'stage' | 'swap' }): Promise<{ cuts: number; reverted: boolean; badCommitted?: boolean }> {
  let cuts = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const info = dev.bootInfo();
      if (info.sequenceNumber !== r.seq) {
        const payload = o.delta ? deltaFor(dev.readPrimaryImage(), r) : r.image;
        if (o.cut === 'stage' && attempt === 0) dev.faults.arm({ at: dev.faults.opIndex + 5, mode: 'torn', seed: r.quarter });
        await dev.stage(r.envelope, payload, { delta: o.delta });
        if (o.cut === 'swap' && attempt === 0) dev.faults.arm({ at: dev.faults.opIndex + 4, mode: 'torn', seed: r.quarter });
        await dev.reboot();
      }
      dev.faults.arm(undefined);
      const after = dev.bootInfo();
      check(after.sequenceNumber === r.seq, `q${r.quarter}: running seq ${after.sequenceNumber}, want ${r.seq} (${after.lastUpdate}/${after.lastError ?? ''})`);
      if (after.trial) {
        if (r.bad) {
          dev.reportHealthFailure();
          await dev.reboot();
          const back = dev.bootInfo();
          check(back.lastUpdate === 'reverted' && back.revertReason === 'health-check-failed', `q${r.quarter}: bad build not reverted`);
          return { cuts, reverted: true };
        }
        dev.confirm();
      } else if (r.bad) {
        // Overwrite-only has no old image to return to: the install is the commit point (documented
        // trade-off). The bad build runs until the next release replaces it.
        check(dev.profile.strategy === 'overwrite', `q${r.quarter}: bad build committed without a trial`);
        return { cuts, reverted: false, badCommitted: true };
      }
      return { cuts, reverted: false };
    } catch (e) {
      if (!isUpdateError(e, 'POWER_LOSS')) throw e;
      cuts++;
      await bootUp(dev);
    }
  }
  throw new LifeError(`q${r.quarter}: update did not complete`);
}

function maxIn(counts: number[], from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, counts[i]!);
  return m;
}

export interface LifeOptions {
  /** Quarters whose release goes through a real server + agent (the step does the install). */
  viaServer?: Map<number, Step>;
  /** Called after each anchor event (attacks, checks). */
  afterAnchors?: (dev: Device, version: number) => Promise<void>;
  /** Stop after this quarter (slow profiles). */
  lastQuarter?: number;
}

export async function live(world: World, dev: Device, o: LifeOptions = {}): Promise<LifeFigures> {
  const p: Profile = dev.profile;
  const f: LifeFigures = {
    profile: p.name, updates: 0, deltas: 0, fulls: 0, reverted: 0, badCommitted: 0, powerCuts: 0, anchorUpdates: 0, anchorsVersion: 1, committedSeq: 0n,
    maxErasesSlot: 0, maxErasesJournal: 0, maxErasesStatus: 0, endurance: p.endurance, journalCompactions: 0, ramPeak: 0, ramLimit: p.ramBytes,
    efuseUsed: 0, efuseBits: p.efuseBits, maxEnvelope: 0, envelopeArea: p.envelopeArea, anchorRecordBytes: [], journalUnit: layoutOf(p).journal[0].size,
    bootCount: 0, refusals: {},
  };
  const efuse0 = dev.efuse.value;
  let committed = dev.bootInfo().committedSequenceNumber;
  for (const r of world.releases) {
    if (o.lastQuarter !== undefined && r.quarter > o.lastQuarter) break;
    for (const ev of world.events.filter((e) => e.quarter === r.quarter)) {
      dev.updateAnchors([ev.statement]);
      f.anchorUpdates++;
      f.anchorsVersion = dev.currentAnchors().version;
      check(f.anchorsVersion === ev.version, `q${r.quarter}: anchors v${f.anchorsVersion}, want v${ev.version}`);
      f.anchorRecordBytes.push(dev.anchorStorageBytes());
      await bootUp(dev); // the new set survives a power cycle and still verifies the running image
      check(dev.currentAnchors().version === ev.version, `q${r.quarter}: anchors lost at reboot`);
      await o.afterAnchors?.(dev, ev.version);
    }
    f.maxEnvelope = Math.max(f.maxEnvelope, r.envelope.length);
    const step = o.viaServer?.get(r.quarter);
    if (step) {
      await step(dev, r);
      f.updates++;
    } else {
      const delta = r.quarter % 5 !== 0;
      const cut = POWER_CUT_OF(r.quarter);
      const res = await installViaDevice(dev, r, { delta, ...(cut ? { cut } : {}) });
      f.updates++;
      if (delta) f.deltas++;
      else f.fulls++;
      f.powerCuts += res.cuts;
      if (res.reverted) f.reverted++;
      if (res.badCommitted) f.badCommitted++;
    }
    const info = dev.bootInfo();
    if (r.bad && p.strategy !== 'overwrite') {
      check(info.committedSequenceNumber === committed, `q${r.quarter}: a reverted build moved the counter`);
    } else {
      check(info.committedSequenceNumber > committed, `q${r.quarter}: committed sequence number did not strictly increase`);
      check(info.committedSequenceNumber === r.seq, `q${r.quarter}: committed ${info.committedSequenceNumber} ≠ ${r.seq}`);
      committed = info.committedSequenceNumber;
    }
    check(info.securityCounter <= p.efuseBits, 'eFuse over its bits');
  }
  const st = dev.stats();
  const l = dev.layout;
  const sec = (off: number) => dev.flash.sectorAt(off);
  f.maxErasesSlot = maxIn(st.eraseCounts, sec(l.primary.offset), sec(l.secondary.offset + l.secondary.size - 1) + 1);
  f.maxErasesJournal = maxIn(st.eraseCounts, sec(l.journal[0].offset), sec(l.journal[1].offset + l.journal[1].size - 1) + 1);
  f.maxErasesStatus = maxIn(st.eraseCounts, sec(l.status.offset), sec(l.status.offset + l.status.size - 1) + 1);
  f.journalCompactions = st.journalCompactions;
  f.ramPeak = st.ramPeak;
  f.efuseUsed = dev.efuse.value - efuse0;
  f.committedSeq = committed;
  f.bootCount = dev.bootCount;
  return f;
}

const POWER_CUT_OF = (q: number) => POWER_CUTS.get(q);
