/**
 * RAM budget: every buffer the update path uses is declared here first, so the simulator can refuse
 * a design that would not fit the part (RAM_BUDGET_EXCEEDED) and report the peak a C port needs.
 * Buffers are plain Uint8Arrays; `free` returns their bytes to the budget.
 */
import { UpdateError } from '../manifest/index.js';

export class RamBudget {
  private used = 0;
  private peakBytes = 0;
  private readonly live = new Map<Uint8Array, { name: string; size: number }>();

  constructor(readonly limit: number) {}

  /** Declare and allocate a buffer of `size` bytes named for reports. */
  alloc(name: string, size: number): Uint8Array {
    this.reserve(name, size);
    const buf = new Uint8Array(size);
    this.live.set(buf, { name, size });
    return buf;
  }

  /** Account for memory held by a component that allocates itself (e.g. a decoder's window). */
  reserve(name: string, size: number): void {
    if (!Number.isInteger(size) || size < 0) throw new UpdateError('INTERNAL', `bad buffer size for ${name}`);
    if (this.used + size > this.limit) {
      throw new UpdateError('RAM_BUDGET_EXCEEDED', `${name} needs ${size} B; ${this.used} of ${this.limit} B in use`, {
        details: { name, size, used: this.used, limit: this.limit },
      });
    }
    this.used += size;
    if (this.used > this.peakBytes) this.peakBytes = this.used;
  }

  release(size: number): void {
    this.used = Math.max(0, this.used - size);
  }

  free(buf: Uint8Array): void {
    const e = this.live.get(buf);
    if (e === undefined) return;
    this.live.delete(buf);
    this.used -= e.size;
  }

  /** Run `fn` with a temporary buffer that is freed afterwards, also on throw. */
  with<T>(name: string, size: number, fn: (buf: Uint8Array) => T): T {
    const b = this.alloc(name, size);
    try {
      return fn(b);
    } finally {
      this.free(b);
    }
  }

  async withAsync<T>(name: string, size: number, fn: (buf: Uint8Array) => Promise<T>): Promise<T> {
    const b = this.alloc(name, size);
    try {
      return await fn(b);
    } finally {
      this.free(b);
    }
  }

  get inUse(): number {
    return this.used;
  }
  get peak(): number {
    return this.peakBytes;
  }
  resetPeak(): void {
    this.peakBytes = this.used;
  }
  /** Drop everything (a reboot clears RAM). */
  clear(): void {
    this.live.clear();
    this.used = 0;
  }
}
