/**
 * Token-bucket rate limits (per device id and per bearer token), in memory. A refused request gets
 * 429 RATE_LIMITED with `Retry-After` (seconds until one token is back). Range requests of one
 * download count as requests like any other, so the download limit is generous (fleet-servers.md ask 3).
 */
import { UpdateError } from '../../manifest/index.js';

export interface BucketSpec {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Burst size. */
  burst: number;
}

interface Bucket { tokens: number; at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly spec: BucketSpec, private readonly maxKeys = 1_000_000, private readonly now: () => number = Date.now) {}

  /** Takes one token for `key`; 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(t);
      b = { tokens: this.spec.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.spec.burst, b.tokens + ((t - b.at) / 1000) * this.spec.ratePerSecond);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.spec.ratePerSecond));
  }

  /** Throws RATE_LIMITED (with details.retryAfterSeconds → Retry-After) when `key` is over its limit. */
  check(key: string, what: string): void {
    const wait = this.take(key);
    if (wait > 0) throw new UpdateError('RATE_LIMITED', `too many requests for this ${what}; retry in ${wait} s`, { details: { retryAfterSeconds: wait } });
  }

  private sweep(t: number): void {
    // Full buckets carry no information: drop them; if that frees nothing, start over.
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.spec.ratePerSecond >= this.spec.burst) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}
