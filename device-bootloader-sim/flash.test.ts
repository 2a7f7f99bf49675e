import { describe, expect, it } from 'vitest';
import { isUpdateError } from '../manifest/index.js';
import { FaultInjector, Flash } from './flash.js';
import { Journal } from './journal.js';
import { FlashCounter } from './counters.js';
import { EfuseCounter, Otp } from './otp.js';
import { RamBudget } from './ram.js';
import { layoutOf, PROFILES } from './profiles.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isUpdateError(e) ? e.code : String(e);
  }
  return undefined;
};

describe('flash model', () => {
  it('refuses programming un-erased bytes (strict) and clears bits only (nor)', () => {
    const f = new Flash({ sectors: [16, 16], eraseValue: 0xff, writeAlign: 4 });
    f.write(0, new Uint8Array([1, 2, 3, 4]));
    expect(code(() => f.write(0, new Uint8Array([1, 2, 3, 4])))).toBe('FLASH_NOT_ERASED');
    const n = new Flash({ sectors: [16], eraseValue: 0x00, writeAlign: 1, programMode: 'nor' });
    n.write(0, new Uint8Array([0x0f]));
    n.write(0, new Uint8Array([0xf0]));
    expect(n.read(0, 1)[0]).toBe(0xff); // 0x00-erase parts: programming sets bits
  });
  it('checks alignment, sector boundaries and endurance', () => {
    const f = new Flash({ sectors: [16, 32], eraseValue: 0xff, writeAlign: 8, endurance: 2 });
    expect(code(() => f.write(4, new Uint8Array(8)))).toBe('FLASH_MISALIGNED');
    expect(code(() => f.erase(0, 20))).toBe('FLASH_MISALIGNED');
    expect(code(() => f.read(40, 10))).toBe('FLASH_OUT_OF_RANGE');
    f.erase(16, 32);
    f.erase(16, 32);
    expect(code(() => f.erase(16, 32))).toBe('FLASH_WORN_OUT');
    expect(f.eraseCounts[1]).toBe(2);
  });
  it('cuts power before, after and inside an operation by index', () => {
    const faults = new FaultInjector();
    const f = new Flash({ sectors: [64], eraseValue: 0xff, writeAlign: 1 }, faults);
    const data = new Uint8Array(64).fill(0x11);
    faults.arm({ at: 0, mode: 'before' });
    expect(code(() => f.write(0, data))).toBe('POWER_LOSS');
    expect(f.isErased(0, 64)).toBe(true);
    expect(code(() => f.write(0, data))).toBe('POWER_LOSS'); // dead until power-on
    faults.powerOn();
    faults.arm({ at: faults.opIndex, mode: 'torn', fill: 'unchanged', seed: 3 });
    expect(code(() => f.write(0, data))).toBe('POWER_LOSS');
    const got = f.read(0, 64);
    const prefix = got.findIndex((b) => b !== 0x11);
    expect(prefix).toBeGreaterThanOrEqual(0);
    expect(got.subarray(prefix).every((b) => b === 0xff)).toBe(true);
    faults.powerOn();
    faults.arm({ at: faults.opIndex, mode: 'torn' });
    expect(code(() => f.erase(0, 64))).toBe('POWER_LOSS');
    expect(f.isErased(0, 64)).toBe(false); // a torn erase leaves garbage
  });
  it('enforces a watchdog budget with the time model', () => {
    const f = new Flash({ sectors: [4096, 4096, 4096], eraseValue: 0xff, writeAlign: 4, timing: { eraseMsPerKiB: 20, programUsPerByte: 10 }, watchdogMs: 100 });
    f.erase(0, 4096);
    expect(code(() => f.erase(4096, 8192))).toBe('WATCHDOG_EXPIRED');
    f.kickWatchdog();
    f.erase(8192, 4096);
  });
});

describe('journal, counters, OTP, RAM', () => {
  it('journal keeps the old or the new value across a cut at every operation, including compaction', () => {
    for (const ev of [0xff, 0x00] as const) {
      for (let at = 0; at < 40; at++) {
        for (const mode of ['before', 'after', 'torn'] as const) {
          const faults = new FaultInjector();
          const f = new Flash({ sectors: [256, 256], eraseValue: ev, writeAlign: 8 }, faults);
          const j = new Journal(f, [{ offset: 0, size: 256 }, { offset: 256, size: 256 }]);
          j.mount();
          let last = 0;
          faults.arm({ at, mode, seed: at });
          try {
            for (let v = 1; v <= 12; v++) {
              j.put(1, new Uint8Array(20).fill(v));
              last = v;
            }
          } catch (e) {
            expect(isUpdateError(e, 'POWER_LOSS')).toBe(true);
          }
          faults.arm(undefined);
          faults.powerOn();
          j.mount();
          const got = j.get(1)?.[0] ?? 0;
          expect([last, last + 1]).toContain(got);
          j.put(1, new Uint8Array(20).fill(99)); // still writable after any cut
          j.mount();
          expect(j.get(1)?.[0]).toBe(99);
        }
      }
    }
  });
  it('flash counter is monotonic; eFuse counter is limited; OTP is write-once', () => {
    const f = new Flash({ sectors: [128, 128], eraseValue: 0xff, writeAlign: 4 });
    const c = new FlashCounter(f, [{ offset: 0, size: 128 }, { offset: 128, size: 128 }]);
    for (let i = 0; i < 20; i++) c.increment();
    c.mount();
    expect(c.value).toBe(20n);
    expect(code(() => c.advanceTo(5))).toBe('ROLLBACK_REJECTED');
    const e = new EfuseCounter(4);
    e.advanceTo(3);
    expect(code(() => e.advanceTo(5))).toBe('COUNTER_EXHAUSTED');
    const otp = new Otp();
    otp.write('k', new Uint8Array([1]));
    expect(code(() => otp.write('k', new Uint8Array([2])))).toBe('OTP_LOCKED');
    const ram = new RamBudget(100);
    ram.alloc('a', 60);
    expect(code(() => ram.alloc('b', 50))).toBe('RAM_BUDGET_EXCEEDED');
    expect(ram.peak).toBe(60);
  });
  it('every profile lays out', () => {
    for (const p of Object.values(PROFILES)) expect(layoutOf(p).primary.units.length).toBeGreaterThan(0);
  });
});
