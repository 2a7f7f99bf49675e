/**
 * Device profiles: flash geometry, partition layout and the bootloader's build-time choices.
 *
 * Every profile exists with both erase values (0xFF, and 0x00 as on STM32L0 — embassy #3342).
 * Slots are made of *logical units* (MCUboot `MCUBOOT_LOGICAL_SECTOR_SIZE`): runs of consecutive
 * physical sectors whose sizes add up to the slot unit. This lets swap-offset run on parts with
 * mixed sector sizes (STM32F4: 16/64/128 KiB) as long as each slot can be cut into equal units.
 */
import { UpdateError } from '../manifest/index.js';
import type { EraseValue, FlashGeometry, FlashTiming, WriteAlign } from './flash.js';
import type { Unit } from './journal.js';

export type Strategy = 'swap-offset' | 'overwrite';
export type PartitionName = 'bootloader' | 'journal-a' | 'journal-b' | 'status' | 'primary' | 'secondary' | 'gap';

export interface Profile {
  name: string;
  description: string;
  sectors: readonly number[];
  writeAlign: WriteAlign;
  /** Partitions in address order, each a number of physical sectors. */
  partitions: readonly (readonly [PartitionName, number])[];
  /** Logical unit size of both slots. */
  slotUnit: number;
  strategy: Strategy;
  /** Bytes at the start of a slot for the slot header + SUIT envelope; the image follows. */
  envelopeArea: number;
  /** RAM the update path may use (buffers declared against a RamBudget). */
  ramBytes: number;
  /** Copy buffer the swap uses (a multiple of the write alignment). */
  copyBuffer: number;
  /** Page size the staging/delta writer uses. */
  stagePage: number;
  /** Boots a trial image gets before it is reverted (1 = MCUboot test swap semantics). */
  trialBoots: number;
  /** eFuse bits of the security (epoch) counter. */
  efuseBits: number;
  endurance: number;
  timing?: FlashTiming;
  watchdogMs?: number;
}

const nrfTiming: FlashTiming = { eraseMsPerKiB: 21, programUsPerByte: 10.25, readUsPerByte: 0.016 }; // nRF52840 PS: 85 ms/4 KiB page, 41 µs/word
const stmTiming: FlashTiming = { eraseMsPerKiB: 8, programUsPerByte: 4, readUsPerByte: 0.006 }; // STM32F4: ~1-2 s per 128 KiB, x32 program
const smallTiming: FlashTiming = { eraseMsPerKiB: 8, programUsPerByte: 8, readUsPerByte: 0.02 };

const rep = (n: number, size: number): number[] => Array.from({ length: n }, () => size);
const stmBank = [...rep(4, 16 * 1024), 64 * 1024, ...rep(7, 128 * 1024)];

export const PROFILES: Record<string, Profile> = {
  nrf52840: {
    name: 'nrf52840',
    description: 'nRF52840-like: 1 MiB, 256 × 4 KiB pages, 4-byte writes; swap-offset, 256 KiB slots',
    sectors: rep(256, 4096),
    writeAlign: 4,
    partitions: [
      ['bootloader', 12],
      ['journal-a', 1],
      ['journal-b', 1],
      ['status', 1],
      ['primary', 64],
      ['secondary', 65],
      ['gap', 112],
    ],
    slotUnit: 4096,
    strategy: 'swap-offset',
    envelopeArea: 4096,
    ramBytes: 24 * 1024,
    copyBuffer: 1024,
    stagePage: 4096,
    trialBoots: 1,
    efuseBits: 32,
    endurance: 10_000,
    timing: nrfTiming,
    watchdogMs: 2000,
  },
  stm32f4: {
    name: 'stm32f4',
    description: 'STM32F4-like: 2 MiB dual bank, 16/64/128 KiB sectors, 16-byte writes; swap-offset on 128 KiB logical units',
    sectors: [...stmBank, ...stmBank],
    writeAlign: 16,
    partitions: [
      ['bootloader', 1],
      ['journal-a', 1],
      ['journal-b', 1],
      ['status', 1],
      ['gap', 1],
      ['primary', 7],
      ['secondary', 12], // 16K×4 + 64K (one 128 KiB logical unit) + 128K×7
    ],
    slotUnit: 128 * 1024,
    strategy: 'swap-offset',
    envelopeArea: 4096,
    ramBytes: 32 * 1024,
    copyBuffer: 4096,
    stagePage: 4096,
    trialBoots: 2,
    efuseBits: 32,
    endurance: 10_000,
    timing: stmTiming,
    watchdogMs: 4000,
  },
  smallpage: {
    name: 'smallpage',
    description: 'Small-page part: 128 KiB, 256 × 512 B pages, 8-byte writes; swap-offset on pages',
    sectors: rep(256, 512),
    writeAlign: 8,
    partitions: [
      ['bootloader', 16],
      ['journal-a', 4],
      ['journal-b', 4],
      ['status', 4],
      ['primary', 113],
      ['secondary', 114],
      ['gap', 1],
    ],
    slotUnit: 512,
    strategy: 'swap-offset',
    envelopeArea: 3584, // 7 pages: a dual Ed25519 + HSS-LMS (H5W8) bridge envelope is ~3.1 KB (docs/longevity.md)
    ramBytes: 16 * 1024,
    copyBuffer: 512,
    stagePage: 512,
    trialBoots: 1,
    efuseBits: 16,
    endurance: 10_000,
    timing: smallTiming,
    watchdogMs: 1000,
  },
  'smallpage-ow': {
    name: 'smallpage-ow',
    description: 'Tiny part: 64 KiB, 128 × 512 B pages, 1-byte writes; overwrite-only (no room for revert)',
    sectors: rep(128, 512),
    writeAlign: 1,
    partitions: [
      // 3.5 KiB bootloader and a 512 B status area (112 B used) leave 56 + 56 pages: room for a 3.5 KiB
      // envelope area (HSS-LMS signatures) and still 25 KiB images (docs/longevity.md).
      ['bootloader', 7],
      ['journal-a', 4],
      ['journal-b', 4],
      ['status', 1],
      ['primary', 56],
      ['secondary', 56],
    ],
    slotUnit: 512,
    strategy: 'overwrite',
    envelopeArea: 3584, // 7 pages: a dual Ed25519 + HSS-LMS (H5W8) bridge envelope is ~3.1 KB (docs/longevity.md)
    ramBytes: 14 * 1024,
    copyBuffer: 256,
    stagePage: 256,
    trialBoots: 1,
    efuseBits: 8,
    endurance: 10_000,
    timing: smallTiming,
    watchdogMs: 1000,
  },
};

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

export function getProfile(name: string): Profile {
  const p = PROFILES[name];
  if (p === undefined) throw new UpdateError('USAGE', `unknown profile ${name}; known: ${profileNames().join(', ')}`);
  return p;
}

export function geometryOf(p: Profile, eraseValue: EraseValue, programMode: 'strict' | 'nor' = 'strict'): FlashGeometry {
  return {
    sectors: p.sectors,
    eraseValue,
    writeAlign: p.writeAlign,
    programMode,
    endurance: p.endurance,
    ...(p.timing ? { timing: p.timing } : {}),
    ...(p.watchdogMs !== undefined ? { watchdogMs: p.watchdogMs } : {}),
  };
}

export interface Region {
  offset: number;
  size: number;
  /** Physical sector index range [first, end). */
  firstSector: number;
  endSector: number;
}

export interface Layout {
  bootloader: Region;
  journal: [Unit, Unit];
  status: Region;
  primary: Region & { units: Unit[] };
  secondary: Region & { units: Unit[] };
}

/** Resolve a profile's partitions to addresses and cut the slots into logical units. */
export function layoutOf(p: Profile): Layout {
  const regions = new Map<PartitionName, Region>();
  let sector = 0;
  let offset = 0;
  for (const [name, count] of p.partitions) {
    const first = sector;
    let size = 0;
    for (let i = 0; i < count; i++) {
      const s = p.sectors[sector++];
      if (s === undefined) throw new UpdateError('INTERNAL', `profile ${p.name}: partitions exceed the flash`);
      size += s;
    }
    if (name !== 'gap') regions.set(name, { offset, size, firstSector: first, endSector: sector });
    offset += size;
  }
  const need = (n: PartitionName): Region => {
    const r = regions.get(n);
    if (!r) throw new UpdateError('INTERNAL', `profile ${p.name}: no ${n} partition`);
    return r;
  };
  const units = (r: Region): Unit[] => {
    const out: Unit[] = [];
    let start = r.offset;
    let acc = 0;
    for (let s = r.firstSector; s < r.endSector; s++) {
      acc += p.sectors[s]!;
      if (acc === p.slotUnit) {
        out.push({ offset: start, size: acc });
        start += acc;
        acc = 0;
      } else if (acc > p.slotUnit) throw new UpdateError('INTERNAL', `profile ${p.name}: sectors do not group into ${p.slotUnit} B units`);
    }
    if (acc !== 0) throw new UpdateError('INTERNAL', `profile ${p.name}: slot is not a whole number of units`);
    return out;
  };
  const primary = { ...need('primary'), units: units(need('primary')) };
  const secondary = { ...need('secondary'), units: units(need('secondary')) };
  const ja = need('journal-a');
  const jb = need('journal-b');
  const layout: Layout = {
    bootloader: need('bootloader'),
    journal: [
      { offset: ja.offset, size: ja.size },
      { offset: jb.offset, size: jb.size },
    ],
    status: need('status'),
    primary,
    secondary,
  };
  const extra = p.strategy === 'swap-offset' ? 1 : 0;
  if (secondary.units.length !== primary.units.length + extra) {
    throw new UpdateError('INTERNAL', `profile ${p.name}: ${p.strategy} needs a secondary of primary + ${extra} units`);
  }
  if (statusBytes(p, primary.units.length) > layout.status.size) throw new UpdateError('INTERNAL', `profile ${p.name}: status area too small`);
  if (p.copyBuffer % p.writeAlign !== 0 || p.slotUnit % p.copyBuffer !== 0) throw new UpdateError('INTERNAL', `profile ${p.name}: bad copy buffer`);
  return layout;
}

/** Swap status: two write-once words per unit (plus one spare pair), each one write-alignment wide. */
export function statusBytes(p: Profile, units: number): number {
  return 2 * (units + 1) * p.writeAlign;
}

/** Largest image a slot can hold (bytes after the envelope area). */
export function maxImageSize(p: Profile): number {
  const l = layoutOf(p);
  return l.primary.size - p.envelopeArea;
}
