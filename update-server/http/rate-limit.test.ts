import { describe, expect, it } from 'vitest';
import { bearer, makeHarness } from '../testing/harness.js';
import { RateLimiter } from './rate-limit.js';

describe('rate limiting', () => {
  it('token bucket: burst, then refill at the rate', () => {
    let t = 0;
    const l = new RateLimiter(2, 3, () => t);
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0]);
    expect(l.take('a')).toBeCloseTo(0.5);
    expect(l.take('b')).toBe(0);
    t = 500;
    expect(l.take('a')).toBe(0);
  });
  it('the management API answers 429 RATE_LIMITED with Retry-After per token', async () => {
    const h = await makeHarness({ config: { tokenRatePerSecond: 0.01, tokenBurst: 3 } });
    const tok = await h.tenantToken('acme', 'viewer');
    // the admin token already spent part of its bucket creating the tenant and the token
    for (let i = 0; i < 3; i++) expect((await h.http.get('/api/v1/devices').set(bearer(tok))).status).toBe(200);
    const res = await h.http.get('/api/v1/devices').set(bearer(tok));
    expect([res.status, res.body.error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await h.close();
  });
});
