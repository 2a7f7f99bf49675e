/**
 * In-memory token-bucket rate limiting per key (token id, device id). Over the limit: 429
 * RATE_LIMITED with Retry-After. Memory is bounded: idle full buckets are dropped on a sweep.
 * (Per process; a scaled-out deployment would put this in a shared store.)
 */
import type { Request, RequestHandler } from 'express';
import { UpdateError } from '../../manifest/index.js';

export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  ratePerSecond: number;
  /** Bucket size (burst). */
  burst: number;
  key(req: Request): string | undefined;
  now?: () => number;
}

interface Bucket { tokens: number; at: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;
  constructor(private readonly rate: number, private readonly burst: number, private readonly now: () => number = () => Date.now()) {}

  /** Takes one token; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const t = this.now();
    if (t - this.lastSweep > 60_000) this.sweep(t);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.rate;
  }

  private sweep(t: number): void {
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
  }
}

export function rateLimit(o: RateLimitOptions): RequestHandler {
  const limiter = new RateLimiter(o.ratePerSecond, o.burst, o.now);
  return (req, _res, next) => {
    const key = o.key(req);
    if (key === undefined) return next();
    const wait = limiter.take(key);
    if (wait === 0) return next();
    next(new UpdateError('RATE_LIMITED', 'too many requests for this credential', { details: { retryAfterSeconds: Math.max(1, Math.ceil(wait)) } }));
  };
}
