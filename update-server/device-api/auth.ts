/**
 * Device authentication: challenge → Ed25519 signature → short-lived bearer token.
 *
 *  1. `POST /device/v1/auth/challenge {deviceId}` — 32 random bytes, single use, 60 s; only its sha256
 *     is stored. Unknown, unclaimed or disabled devices get DEVICE_NOT_ENROLLED and nothing else (the
 *     same answer for all three, so it is no enrolment oracle beyond "not enrolled").
 *  2. `POST /device/v1/auth/token {deviceId, challenge, signature}` — the signature is Ed25519 over
 *     `authMessage(deviceId, challenge)` with the device's registered identity key. The challenge is
 *     burnt before the signature is checked (one guess per challenge). A random 256-bit token valid for
 *     `tokenTtlSeconds` is returned once; only its sha256 is stored.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { UpdateError } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import type { CoreTables, DeviceRecord } from '../state/index.js';
import type { RolloutTables } from '../rollouts/index.js';
import { authMessage, parseIdentityKey, verifyEd25519 } from './identity.js';

export const DEVICE_TOKEN_PREFIX = 'sdt_';
export const CHALLENGE_BYTES = 32;

export interface DeviceAuthOptions {
  challengeTtlSeconds: number;
  tokenTtlSeconds: number;
  /** Devices without an owner (tenant) are refused unless this is set (vendor-operated fleets). */
  allowUnclaimed: boolean;
}

export const DEFAULT_DEVICE_AUTH: DeviceAuthOptions = { challengeTtlSeconds: 60, tokenTtlSeconds: 3600, allowUnclaimed: false };

// One-shot crypto.hash (Node ≥ 20.12) is about twice as fast as a Hash object on the poll path.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string | Uint8Array, enc: 'hex') => string }).hash;
const sha256hex = (b: Uint8Array | string): string => (oneShot ? oneShot('sha256', b, 'hex') : createHash('sha256').update(b).digest('hex'));

interface CachedToken { deviceId: string; expiresAt: number }

export class DeviceAuth {
  /** token hash → device; bounded, entries expire with their token. */
  private readonly tokens = new Map<string, CachedToken>();
  private lastSweep = 0;

  constructor(private readonly ctx: ServerContext, readonly opts: DeviceAuthOptions = DEFAULT_DEVICE_AUTH, private readonly now: () => number = Date.now) {}

  private get db(): Kysely<CoreTables & RolloutTables> {
    return this.ctx.store.db.withTables<RolloutTables>() as unknown as Kysely<CoreTables & RolloutTables>;
  }

  enrolled(d: DeviceRecord | null): d is DeviceRecord {
    return d !== null && (d.tenantId !== null || this.opts.allowUnclaimed);
  }

  async challenge(deviceId: string): Promise<{ challenge: Uint8Array; expiresIn: number }> {
    const d = await this.ctx.store.getDevice(deviceId);
    if (!this.enrolled(d)) throw new UpdateError('DEVICE_NOT_ENROLLED', 'this device is not enrolled');
    const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
    const t = this.now();
    await this.db.insertInto('device_challenges').values({
      id: sha256hex(challenge), device_id: deviceId, expires_at: new Date(t + this.opts.challengeTtlSeconds * 1000).toISOString(), used_at: null,
    }).execute();
    await this.sweep(t);
    return { challenge, expiresIn: this.opts.challengeTtlSeconds };
  }

  async token(deviceId: string, challenge: Uint8Array, signature: Uint8Array): Promise<{ token: string; expiresIn: number; expiresAt: string }> {
    const t = this.now();
    const nowIso = new Date(t).toISOString();
    const id = sha256hex(challenge);
    // Burn first: a challenge admits one signature attempt, whatever its outcome.
    const burnt = await this.db.updateTable('device_challenges').set({ used_at: nowIso })
      .where('id', '=', id).where('device_id', '=', deviceId).where('used_at', 'is', null).where('expires_at', '>', nowIso)
      .executeTakeFirst();
    if (Number(burnt.numUpdatedRows) !== 1) throw new UpdateError('CHALLENGE_INVALID', 'the challenge is unknown, already used or expired');
    const d = await this.ctx.store.getDevice(deviceId);
    if (!this.enrolled(d)) throw new UpdateError('DEVICE_NOT_ENROLLED', 'this device is not enrolled');
    const pub = parseIdentityKey(d.identityKey);
    if (!verifyEd25519(pub, authMessage(deviceId, challenge), signature)) {
      throw new UpdateError('CHALLENGE_INVALID', 'the challenge signature does not verify with the device identity key');
    }
    const token = DEVICE_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = t + this.opts.tokenTtlSeconds * 1000;
    const hash = sha256hex(token);
    await this.db.insertInto('device_tokens').values({ hash, device_id: deviceId, expires_at: new Date(expiresAt).toISOString(), created_at: nowIso }).execute();
    this.tokens.set(hash, { deviceId, expiresAt });
    return { token, expiresIn: this.opts.tokenTtlSeconds, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Synchronous fast path: the token's device when it is cached and valid, else undefined (then call resolve). */
  resolveCached(token: string): { deviceId: string; hash: string } | undefined {
    if (!token.startsWith(DEVICE_TOKEN_PREFIX) || token.length > 128) return undefined;
    const hash = sha256hex(token);
    const c = this.tokens.get(hash);
    return c && c.expiresAt > this.now() ? { deviceId: c.deviceId, hash } : undefined;
  }

  /** Device id of a valid bearer token; AUTH_REQUIRED otherwise. `hash` is sha256(token) hex. */
  async resolve(token: string): Promise<{ deviceId: string; hash: string }> {
    if (!token.startsWith(DEVICE_TOKEN_PREFIX) || token.length > 128) throw new UpdateError('AUTH_REQUIRED', 'a device bearer token is required');
    const hash = sha256hex(token);
    const t = this.now();
    let c = this.tokens.get(hash);
    if (!c) {
      const row = await this.db.selectFrom('device_tokens').select(['hash', 'device_id', 'expires_at']).where('hash', '=', hash).executeTakeFirst();
      if (row && timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) {
        c = { deviceId: row.device_id, expiresAt: Date.parse(row.expires_at) };
        if (this.tokens.size > 500_000) this.tokens.clear();
        this.tokens.set(hash, c);
      }
    }
    if (!c || c.expiresAt <= t) throw new UpdateError('AUTH_REQUIRED', 'the device token is unknown or expired; authenticate again');
    return { deviceId: c.deviceId, hash };
  }

  /** Revokes every token of a device (ownership transfer, decommissioning). */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.db.deleteFrom('device_tokens').where('device_id', '=', deviceId).execute();
    for (const [h, c] of this.tokens) if (c.deviceId === deviceId) this.tokens.delete(h);
  }

  /** Drops expired challenges and tokens, at most once a minute. */
  private async sweep(t: number): Promise<void> {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    const iso = new Date(t).toISOString();
    await this.db.deleteFrom('device_challenges').where('expires_at', '<', iso).execute();
    await this.db.deleteFrom('device_tokens').where('expires_at', '<', iso).execute();
    for (const [h, c] of this.tokens) if (c.expiresAt <= t) this.tokens.delete(h);
  }
}
