/**
 * The image movers: swap-offset upgrade and revert (no scratch sector), and overwrite-only.
 *
 * Swap-offset (MCUboot BOOT_SWAP_USING_OFFSET): the candidate is staged one unit up, at S[1..k]; the
 * secondary has one unit more than the primary. With k = units used by the larger of the two images:
 *
 *   upgrade, i = 0 .. k-1:   A(i): erase S[i],   copy P[i]   → S[i]      (old unit i saved)
 *                            B(i): erase P[i],   copy S[i+1] → P[i]      (new unit i installed)
 *   result: P = new, S[0..k-1] = old (ready for revert), S[k] = copy of new's last unit
 *
 *   revert, i = k-1 .. 0:    A'(i): erase S[i+1], copy P[i] → S[i+1]     (new unit i saved)
 *                            B'(i): erase P[i],   copy S[i] → P[i]       (old unit i restored)
 *   result: P = old, S[1..k] = new (the staged layout again)
 *
 * Each step's source is intact until a later step, so an interrupted step is redone from scratch.
 * After a step's data is complete, one write-once status word (write-alignment wide) is programmed.
 * A status word counts as done when ANY of its bytes differs from the erase value: its program only
 * starts after the data copy finished, so even a torn status word proves the step complete, and an
 * erased one is never re-programmed unless it is still erased (no write to un-erased flash).
 * Without interruptions every used slot unit is erased exactly once per upgrade and once per revert.
 */
import type { Flash } from './flash.js';
import type { Unit } from './journal.js';
import type { RamBudget } from './ram.js';
import type { Region } from './profiles.js';

export interface MovePlan {
  primary: Unit[];
  secondary: Unit[];
  status: Region;
  /** Units to move. */
  k: number;
  copyBuffer: number;
}

const STATUS_PATTERN = 0x5a;

export function statusWordDone(flash: Flash, plan: MovePlan, j: number): boolean {
  return !flash.isErased(plan.status.offset + j * flash.writeAlign, flash.writeAlign);
}

function markStatus(flash: Flash, plan: MovePlan, j: number): void {
  flash.write(plan.status.offset + j * flash.writeAlign, new Uint8Array(flash.writeAlign).fill(STATUS_PATTERN));
}

/** Erase the status sectors the plan needs (words 0 .. 2k-1). */
export function eraseStatus(flash: Flash, plan: MovePlan): void {
  const bytes = Math.max(1, 2 * plan.k * flash.writeAlign);
  const first = flash.sectorAt(plan.status.offset);
  const last = flash.sectorAt(plan.status.offset + bytes - 1);
  for (let s = first; s <= last; s++) flash.eraseSector(s);
}

function copyUnit(flash: Flash, buf: Uint8Array, src: Unit, dst: Unit): void {
  const ev = flash.eraseValue;
  for (let off = 0; off < src.size; off += buf.length) {
    flash.readInto(src.offset + off, buf);
    // Erased chunks are already erased at the destination: skip them (copies only what the image uses).
    let blank = true;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] !== ev) {
        blank = false;
        break;
      }
    }
    if (!blank) flash.write(dst.offset + off, buf);
    flash.kickWatchdog();
  }
}

function step(flash: Flash, buf: Uint8Array, plan: MovePlan, j: number, erase: Unit, src: Unit): void {
  if (statusWordDone(flash, plan, j)) return;
  flash.erase(erase.offset, erase.size);
  flash.kickWatchdog();
  copyUnit(flash, buf, src, erase);
  markStatus(flash, plan, j);
}

function withBuffer(ram: RamBudget, plan: MovePlan, fn: (buf: Uint8Array) => void): void {
  ram.with('copy buffer', plan.copyBuffer, fn);
}

export function swapUpgrade(flash: Flash, ram: RamBudget, plan: MovePlan): void {
  const { primary: P, secondary: S, k } = plan;
  withBuffer(ram, plan, (buf) => {
    for (let i = 0; i < k; i++) {
      step(flash, buf, plan, 2 * i, S[i]!, P[i]!);
      step(flash, buf, plan, 2 * i + 1, P[i]!, S[i + 1]!);
    }
  });
}

export function swapRevert(flash: Flash, ram: RamBudget, plan: MovePlan): void {
  const { primary: P, secondary: S, k } = plan;
  withBuffer(ram, plan, (buf) => {
    for (let n = 0; n < k; n++) {
      const i = k - 1 - n;
      step(flash, buf, plan, 2 * n, S[i + 1]!, P[i]!);
      step(flash, buf, plan, 2 * n + 1, P[i]!, S[i]!);
    }
  });
}

/** Overwrite-only: P[i] ← S[i]; the secondary is kept intact so an interrupted copy resumes. */
export function overwrite(flash: Flash, ram: RamBudget, plan: MovePlan): void {
  const { primary: P, secondary: S, k } = plan;
  withBuffer(ram, plan, (buf) => {
    for (let i = 0; i < k; i++) step(flash, buf, plan, i, P[i]!, S[i]!);
  });
}
