/**
 * Monotonic counters.
 *  - `EfuseCounter` (otp.ts): thermometer fuses, a few dozen increments, indestructible.
 *  - `FlashCounter`: a 64-bit counter in a two-unit journal (journal.ts). Unlimited range, costs flash
 *    wear (one record per advance, one unit erase per compaction) and survives a cut at any operation:
 *    after a cut during `advanceTo(n)` the counter reads the old value or n, never anything else.
 * The bootloader keeps its anti-rollback counter (committed sequence number) inside its own state
 * record rather than in a separate FlashCounter, so that "image confirmed" and "counter advanced" are
 * one atomic record (see bootloader.ts); FlashCounter is the same mechanism as a standalone part.
 */
import { UpdateError } from '../manifest/index.js';
import type { Flash } from './flash.js';
import { Journal, type Unit } from './journal.js';

export { EfuseCounter } from './otp.js';

const KEY = 1;

export class FlashCounter {
  private readonly journal: Journal;

  constructor(flash: Flash, units: [Unit, Unit]) {
    this.journal = new Journal(flash, units);
    this.journal.mount();
  }

  /** Re-read from flash (after a reboot). */
  mount(): void {
    this.journal.mount();
  }

  get value(): bigint {
    const b = this.journal.get(KEY);
    if (b === undefined || b.length !== 8) return 0n;
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  advanceTo(target: bigint | number): void {
    const t = BigInt(target);
    if (t < 0n || t > 0xffffffffffffffffn) throw new UpdateError('INTERNAL', 'counter value out of range');
    if (t < this.value) throw new UpdateError('ROLLBACK_REJECTED', `counter is ${this.value}; refusing to go back to ${t}`);
    if (t === this.value) return;
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, t, true);
    this.journal.put(KEY, b);
  }

  increment(): bigint {
    const v = this.value + 1n;
    this.advanceTo(v);
    return v;
  }
}
