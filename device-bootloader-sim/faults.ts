/**
 * The fault sweep: the main proof that no power cut bricks, rolls back or boots an unverified image.
 *
 * For each profile × erase value, five scenarios start from a saved device state and run one
 * application/bootloader operation while power is cut at operation index i (every i of the
 * uninterrupted run) in each mode: before the op, after it, torn with random rest, torn with the rest
 * unchanged. Then the device is powered on again until it boots (bounded); on a sampled subset the
 * recovery itself is cut again at a random operation. After each recovery:
 *  - it booted (else `bricked`), and the primary image is byte for byte the old or the new one
 *    (else `unverifiedBoots`; boot() only returns after verification, this checks it independently);
 *  - no rollback: committed counter and eFuse never decreased, booted sequence ≥ committed (`rollbacks`);
 *  - counters never advanced before confirm, never on revert (`counterViolations`);
 *  - anchors are the old or the new set (`anchorViolations`);
 *  - no program hit un-erased flash (`notErasedWrites`); boots needed (`maxRecoveryBoots`).
 */
import { computeDigest, isUpdateError, toHex, UpdateError } from '../manifest/index.js';
import * as manifest from '../manifest/index.js';
import { Device, type DeviceSnapshot } from './device.js';
import { prng, type CutMode, type EraseValue, type TornFill } from './flash.js';
import { anchorRecordLength } from './anchors.js';
import { applyDelta, encodeDelta } from './delta-adapter.js';
import { anchorKey, makeImage, makeRelease, makeVendor, type Vendor } from './fixtures.js';
import { getProfile, layoutOf, profileNames } from './profiles.js';

export interface SweepOptions {
  profiles?: string[];
  eraseValues?: EraseValue[];
  /** Fraction of cut points whose recovery is cut again (default 0.25). */
  recoveryCutRate?: number;
  /** Use only every n-th operation index (1 = all; npm test uses a sample). */
  stride?: number;
  modes?: ('before' | 'after' | 'torn-random' | 'torn-unchanged')[];
  scenarios?: ScenarioName[];
  seed?: number;
  onProgress?: (msg: string) => void;
}

export type ScenarioName = 'update' | 'update-delta' | 'confirm' | 'revert' | 'counter' | 'anchors' | 'anchors-compaction';

export interface ScenarioResult {
  profile: string;
  eraseValue: string;
  scenario: ScenarioName;
  ops: number;
  cutPoints: number;
  recoveryCuts: number;
  recovered: number;
  bricked: number;
  rollbacks: number;
  unverifiedBoots: number;
  counterViolations: number;
  anchorViolations: number;
  notErasedWrites: number;
  maxRecoveryBoots: number;
  bootedOld: number;
  bootedNew: number;
  /** Max erases of one slot sector during the uninterrupted bootloader work of this scenario. */
  maxErasesPerSector: number;
  /** Max erases of one slot sector in any run, with faults and recovery. */
  maxErasesPerSectorWithFaults: number;
  failures: string[];
  skipped?: string;
}

export interface SweepSummary {
  profiles: string[];
  configurations: number;
  cutPoints: number;
  recoveryCuts: number;
  recovered: number;
  bricked: number;
  rollbacks: number;
  unverifiedBoots: number;
  counterViolations: number;
  anchorViolations: number;
  notErasedWrites: number;
  maxRecoveryBoots: number;
  maxErasesPerSector: number;
  maxErasesPerSectorIncludingStaging: number;
  maxErasesPerSectorWithFaults: number;
  seconds: number;
  results: ScenarioResult[];
}

const MAX_BOOTS = 6;

interface Images {
  a: Uint8Array;
  b: Uint8Array;
}

function sizesFor(profile: string): [number, number] {
  switch (profile) {
    case 'stm32f4':
      return [150_000, 200_000];
    case 'nrf52840':
      return [30_000, 36_000];
    case 'smallpage':
      return [9_000, 10_400];
    default:
      return [11_000, 12_000];
  }
}

type AnchorApi = {
  sign: (v: Vendor, newKeys: ReturnType<typeof manifest.generateKey>[]) => Uint8Array;
};

/** Rotation v1 → v2: add a key (signed by the old set's and the new set's anchor thresholds). */
function anchorApi(): AnchorApi {
  return {
    sign: (v, newKeys) =>
      manifest.signAnchorStatement(
        { ...v.set, version: v.set.version + 1, keys: [...v.set.keys, ...newKeys.map((k) => anchorKey(k))] },
        [v.key, ...newKeys],
      ),
  };
}

function slotSectorRange(dev: Device): [number, number] {
  const l = layoutOf(dev.profile);
  return [dev.flash.sectorAt(l.primary.offset), dev.flash.sectorAt(l.secondary.offset + l.secondary.size - 1) + 1];
}

function maxDelta(before: Uint32Array, after: Uint32Array, [from, to]: [number, number]): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, after[i]! - before[i]!);
  return m;
}

export async function runSweep(opts: SweepOptions = {}): Promise<SweepSummary> {
  const t0 = Date.now();
  const profiles = opts.profiles ?? profileNames();
  const evs = opts.eraseValues ?? [0xff, 0x00];
  const results: ScenarioResult[] = [];
  const vendor = makeVendor();
  const api = anchorApi();
  let stagingMax = 0;
  for (const p of profiles) {
    getProfile(p);
    const [sa, sb] = sizesFor(p);
    const a = makeImage(sa, 11);
    const b = makeImage(sb, 12, a);
    for (const ev of evs) {
      const r = await sweepConfig(vendor, p, ev, { a, b }, api, opts);
      results.push(...r.results);
      stagingMax = Math.max(stagingMax, r.stagingMax);
    }
  }
  const sum = (k: keyof ScenarioResult): number => results.reduce((s, r) => s + (r[k] as number), 0);
  const max = (k: keyof ScenarioResult): number => results.reduce((s, r) => Math.max(s, r[k] as number), 0);
  return {
    profiles,
    configurations: profiles.length * evs.length,
    cutPoints: sum('cutPoints') + sum('recoveryCuts'),
    recoveryCuts: sum('recoveryCuts'),
    recovered: sum('recovered'),
    bricked: sum('bricked'),
    rollbacks: sum('rollbacks'),
    unverifiedBoots: sum('unverifiedBoots'),
    counterViolations: sum('counterViolations'),
    anchorViolations: sum('anchorViolations'),
    notErasedWrites: sum('notErasedWrites'),
    maxRecoveryBoots: max('maxRecoveryBoots'),
    maxErasesPerSector: max('maxErasesPerSector'),
    maxErasesPerSectorIncludingStaging: stagingMax,
    maxErasesPerSectorWithFaults: max('maxErasesPerSectorWithFaults'),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    results,
  };
}

interface Scenario {
  name: ScenarioName;
  start: DeviceSnapshot;
  /** The operation under test (app call(s) and the reboot that lets the bootloader act). */
  op: (d: Device) => Promise<void>;
  /** Committed sequence number / eFuse value before and the most they may reach. */
  committedBefore: bigint;
  committedMax: bigint;
  efuseBefore: number;
  efuseMax: number;
  anchorsAllowed: string[];
}

async function sweepConfig(
  vendor: Vendor,
  profile: string,
  ev: EraseValue,
  img: Images,
  api: AnchorApi,
  opts: SweepOptions,
): Promise<{ results: ScenarioResult[]; stagingMax: number }> {
  const dev = new Device({ profile, eraseValue: ev, identity: vendor.identity, anchors: vendor.anchors });
  const envA = makeRelease(vendor, { seq: 1, image: img.a, version: [1, 0, 0] });
  const envB = makeRelease(vendor, { seq: 2, image: img.b, version: [1, 1, 0] });
  const envB2 = makeRelease(vendor, { seq: 3, image: img.b, version: [2, 0, 0] });
  await dev.factoryInstall(envA, img.a);
  await dev.boot();
  const sRunningA = dev.snapshot();
  const anchorsA = dev.anchorsFingerprint();
  const digests = { a: toHex(computeDigest(-16, img.a).bytes), b: toHex(computeDigest(-16, img.b).bytes) };
  const range = slotSectorRange(dev);

  // Uninterrupted update: measure staging and bootloader wear separately.
  let before = dev.flash.eraseCounts.slice();
  await dev.stage(envB, img.b);
  const afterStage = dev.flash.eraseCounts.slice();
  await dev.boot();
  const swapErases = maxDelta(afterStage, dev.flash.eraseCounts, range);
  const stagingMax = maxDelta(before, dev.flash.eraseCounts, range);
  const sTrialB = dev.snapshot();

  dev.restore(sRunningA);
  await dev.stage(envB2, img.b);
  await dev.boot();
  const sTrialB2 = dev.snapshot();

  const overwriteOnly = dev.profile.strategy === 'overwrite';
  // Overwrite-only commits the counters when the copy completes (no old image is left to revert to).
  const installCommit = overwriteOnly ? 2n : 1n;
  const patch = encodeDelta(img.a, img.b);
  // The sweep stages this patch on the device; a codec that cannot rebuild the target is a failure of
  // the run, never a skipped scenario.
  const rebuilt = applyDelta(img.a, patch, { pageSize: dev.profile.stagePage }).output;
  if (Buffer.compare(Buffer.from(rebuilt), Buffer.from(img.b)) !== 0) {
    throw new UpdateError('PATCH_MALFORMED', 'delta/ round trip produced other bytes than the target image');
  }
  const bootUntil = async (d: Device, pred: () => boolean): Promise<void> => {
    for (let i = 0; i < 4 && !pred(); i++) await d.boot();
  };
  const scenarios: Scenario[] = [
    {
      name: 'update',
      start: sRunningA,
      op: async (d) => {
        await d.stage(envB, img.b);
        await d.boot();
      },
      committedBefore: 1n,
      committedMax: installCommit,
      efuseBefore: 1,
      efuseMax: 1,
      anchorsAllowed: [anchorsA],
    },
    {
      name: 'update-delta',
      start: sRunningA,
      op: async (d) => {
        await d.stage(envB, patch, { delta: true });
        await d.boot();
      },
      committedBefore: 1n,
      committedMax: installCommit,
      efuseBefore: 1,
      efuseMax: 1,
      anchorsAllowed: [anchorsA],
    },
    {
      name: 'confirm',
      start: sTrialB,
      op: async (d) => {
        d.confirm();
        await d.boot();
      },
      committedBefore: 1n,
      committedMax: 2n,
      efuseBefore: 1,
      efuseMax: 1,
      anchorsAllowed: [anchorsA],
    },
    {
      name: 'revert',
      start: sTrialB,
      op: async (d) => {
        await d.boot();
        await bootUntil(d, () => d.state.lastResult === 'reverted');
      },
      committedBefore: 1n,
      committedMax: 1n,
      efuseBefore: 1,
      efuseMax: 1,
      anchorsAllowed: [anchorsA],
    },
    {
      name: 'counter',
      start: sTrialB2,
      op: async (d) => {
        d.confirm();
        await d.boot();
      },
      committedBefore: 1n,
      committedMax: 3n,
      efuseBefore: 1,
      efuseMax: 2,
      anchorsAllowed: [anchorsA],
    },
  ];
  const results: ScenarioResult[] = [];
  {
    const newKey = manifest.generateKey(-8);
    const stmt = api.sign(vendor, [newKey]);
    dev.restore(sRunningA);
    dev.updateAnchors([stmt]);
    const anchorsB = dev.anchorsFingerprint();
    const rotation = (name: ScenarioName, start: DeviceSnapshot): Scenario => ({
      name,
      start,
      op: async (d) => {
        d.updateAnchors([stmt]);
        await d.boot();
      },
      committedBefore: 1n,
      committedMax: 1n,
      efuseBefore: 1,
      efuseMax: 1,
      anchorsAllowed: [anchorsA, anchorsB],
    });
    scenarios.push(rotation('anchors', sRunningA));
    // The same rotation when the journal is full: the record goes through a compaction (erase + copy + header).
    dev.restore(sRunningA);
    dev.fillJournal(anchorRecordLength(stmt));
    scenarios.push(rotation('anchors-compaction', dev.snapshot()));
  }
  const wanted = opts.scenarios;
  for (const sc of scenarios) {
    if (wanted && !wanted.includes(sc.name)) continue;
    if (overwriteOnly && (sc.name === 'confirm' || sc.name === 'revert' || sc.name === 'counter')) {
      results.push({ ...emptyResult(profile, ev, sc.name), skipped: 'overwrite-only: no trial image, nothing to confirm or revert' });
      continue;
    }
    results.push(await sweepScenario(dev, profile, ev, sc, digests, range, sc.name.startsWith('update') ? swapErases : undefined, opts));
  }
  return { results, stagingMax };
}

function emptyResult(profile: string, ev: EraseValue, scenario: ScenarioName): ScenarioResult {
  return {
    profile,
    eraseValue: ev === 0xff ? '0xFF' : '0x00',
    scenario,
    ops: 0,
    cutPoints: 0,
    recoveryCuts: 0,
    recovered: 0,
    bricked: 0,
    rollbacks: 0,
    unverifiedBoots: 0,
    counterViolations: 0,
    anchorViolations: 0,
    notErasedWrites: 0,
    maxRecoveryBoots: 0,
    bootedOld: 0,
    bootedNew: 0,
    maxErasesPerSector: 0,
    maxErasesPerSectorWithFaults: 0,
    failures: [],
  };
}

async function sweepScenario(
  dev: Device,
  profile: string,
  ev: EraseValue,
  sc: Scenario,
  digests: { a: string; b: string },
  range: [number, number],
  swapErases: number | undefined,
  opts: SweepOptions,
): Promise<ScenarioResult> {
  const res = emptyResult(profile, ev, sc.name);
  const rnd = prng((opts.seed ?? 1) * 7919 + sc.name.length * 31 + ev);
  // Dry run: how many operations does the scenario take?
  dev.restore(sc.start);
  const startOp = sc.start.opIndex;
  const e0 = dev.flash.eraseCounts.slice();
  await sc.op(dev);
  res.ops = dev.faults.opIndex - startOp;
  res.maxErasesPerSector = swapErases ?? maxDelta(e0, dev.flash.eraseCounts, range);
  const modes = opts.modes ?? ['before', 'after', 'torn-random', 'torn-unchanged'];
  const stride = opts.stride ?? 1;
  const rate = opts.recoveryCutRate ?? 0.25;
  const fail = (msg: string): void => {
    if (res.failures.length < 20) res.failures.push(msg);
  };

  for (let i = 0; i < res.ops; i += stride) {
    for (const m of modes) {
      const mode: CutMode = m === 'before' || m === 'after' ? m : 'torn';
      const fill: TornFill = m === 'torn-unchanged' ? 'unchanged' : 'random';
      const where = `${profile}/${res.eraseValue}/${sc.name} op ${i} ${m}`;
      dev.restore(sc.start);
      const violations0 = dev.flash.notErasedViolations;
      dev.faults.arm({ at: startOp + i, mode, fill, seed: i * 4 + modes.indexOf(m) });
      res.cutPoints++;
      try {
        await sc.op(dev);
      } catch (e) {
        if (!isUpdateError(e, 'POWER_LOSS')) {
          res.bricked++;
          fail(`${where}: operation failed with ${String(e)}`);
          continue;
        }
      }
      // Recovery, possibly cut again.
      let recoveryCut = rnd() < rate;
      if (recoveryCut) {
        const snap = dev.snapshot();
        const from = dev.faults.opIndex;
        try {
          await dev.boot();
        } catch {
          /* measured below */
        }
        const n = dev.faults.opIndex - from;
        dev.restore({ ...snap, running: undefined });
        dev.faults.opIndex = from;
        if (n > 0) {
          dev.faults.arm({ at: from + Math.floor(rnd() * n), mode: rnd() < 0.5 ? 'torn' : rnd() < 0.5 ? 'before' : 'after', fill: rnd() < 0.5 ? 'random' : 'unchanged', seed: i });
          res.recoveryCuts++;
        } else recoveryCut = false;
      }
      let booted = false;
      let boots = 0;
      for (; boots < MAX_BOOTS && !booted; ) {
        boots++;
        try {
          await dev.boot();
          booted = true;
        } catch (e) {
          if (isUpdateError(e, 'POWER_LOSS') && recoveryCut) continue;
          fail(`${where}: recovery boot failed with ${isUpdateError(e) ? e.code : String(e)}: ${e instanceof Error ? e.message : ''}`);
          break;
        }
      }
      res.maxRecoveryBoots = Math.max(res.maxRecoveryBoots, boots);
      res.maxErasesPerSectorWithFaults = Math.max(res.maxErasesPerSectorWithFaults, maxDelta(sc.start.flash.eraseCounts, dev.flash.eraseCounts, range));
      if (dev.flash.notErasedViolations > violations0) {
        res.notErasedWrites++;
        fail(`${where}: program over un-erased flash`);
      }
      if (!booted) {
        res.bricked++;
        continue;
      }
      res.recovered++;
      checkInvariants(dev, sc, digests, res, where, fail);
    }
  }
  return res;
}

function checkInvariants(
  dev: Device,
  sc: Scenario,
  digests: { a: string; b: string },
  res: ScenarioResult,
  where: string,
  fail: (m: string) => void,
): void {
  const info = dev.bootInfo();
  const running = toHex(computeDigest(-16, dev.readPrimaryImage()).bytes);
  if (running === digests.a) res.bootedOld++;
  else if (running === digests.b) res.bootedNew++;
  else {
    res.unverifiedBoots++;
    fail(`${where}: booted an image that is neither old nor new`);
  }
  if (info.imageDigest !== running) {
    res.unverifiedBoots++;
    fail(`${where}: boot info digest differs from the primary slot's bytes`);
  }
  const committed = info.committedSequenceNumber;
  if (committed < sc.committedBefore || info.securityCounter < sc.efuseBefore || info.sequenceNumber < committed || info.securityEpoch < info.securityCounter) {
    res.rollbacks++;
    fail(`${where}: rollback (committed ${committed}, booted ${info.sequenceNumber}, fuse ${info.securityCounter})`);
  }
  if (committed > sc.committedMax || info.securityCounter > sc.efuseMax) {
    res.counterViolations++;
    fail(`${where}: counter advanced without confirm (committed ${committed}, fuse ${info.securityCounter})`);
  }
  // A confirmed (non-trial) new image implies its counter is committed; a trial image implies it is not.
  if (running === digests.b && !info.trial && committed === sc.committedBefore) {
    res.counterViolations++;
    fail(`${where}: new image runs confirmed but its counter was not committed`);
  }
  if (!sc.anchorsAllowed.includes(dev.anchorsFingerprint())) {
    res.anchorViolations++;
    fail(`${where}: anchors are neither the old nor the new set`);
  }
}
