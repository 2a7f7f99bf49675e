/**
 * One-time-programmable memory and eFuse-style counters.
 *
 * OTP fields are written once at manufacturing (initial trust anchors, device identity key, device id);
 * a second write throws OTP_LOCKED. An `EfuseCounter` is a thermometer code of `bits` fuses: each
 * increment blows one fuse, so it survives anything and can never go down, but it has only `bits`
 * increments (ESP32 secure_version has 32). A fuse burn is one fault-injection operation; it is
 * atomic (a fuse is blown or not), so a cut lands before or after it.
 */
import { UpdateError } from '../manifest/index.js';
import type { FaultInjector } from './flash.js';

export class Otp {
  private readonly fields = new Map<string, Uint8Array>();

  write(name: string, value: Uint8Array): void {
    if (this.fields.has(name)) throw new UpdateError('OTP_LOCKED', `OTP field ${name} is already programmed`);
    this.fields.set(name, value.slice());
  }

  read(name: string): Uint8Array | undefined {
    const v = this.fields.get(name);
    return v === undefined ? undefined : v.slice();
  }

  names(): string[] {
    return [...this.fields.keys()];
  }

  toJSON(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.fields) o[k] = Buffer.from(v).toString('hex');
    return o;
  }

  static fromJSON(o: Record<string, string>): Otp {
    const otp = new Otp();
    for (const [k, v] of Object.entries(o)) otp.write(k, new Uint8Array(Buffer.from(v, 'hex')));
    return otp;
  }
}

export class EfuseCounter {
  private blown = 0;

  constructor(
    readonly bits: number,
    private readonly faults?: FaultInjector,
  ) {}

  get value(): number {
    return this.blown;
  }
  get remaining(): number {
    return this.bits - this.blown;
  }

  /** Whether the counter can still reach `target` (checked *before* committing to an update, MCUboot PR #2420). */
  canReach(target: number): boolean {
    return target <= this.bits;
  }

  /** Blow fuses until the value is `target`; never decreases. One operation per fuse. */
  advanceTo(target: number): void {
    if (target <= this.blown) return;
    if (!this.canReach(target)) throw new UpdateError('COUNTER_EXHAUSTED', `eFuse counter has ${this.bits} increments; ${target} requested`);
    while (this.blown < target) {
      const action = this.faults?.next('fuse') ?? 'ok';
      if (action === 'before') this.faults!.cut('power cut before fuse burn');
      this.blown++;
      if (action !== 'ok') this.faults!.cut('power cut after fuse burn');
    }
  }

  /** Restore a persisted/snapshotted value (the simulator's own bookkeeping, not a device operation). */
  load(value: number): void {
    this.blown = value;
  }
}
