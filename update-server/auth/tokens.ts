/**
 * API tokens: `suit_<43 base64url chars>` (256 random bits). Only sha256(secret) is stored; lookup is by
 * that hash and the match is re-checked with a constant-time compare, so neither the database nor the
 * comparison reveals how much of a guess was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UpdateError } from '../../manifest/index.js';
import type { Role, StateStore, TokenRecord } from '../state/index.js';
import { newId } from '../util/ids.js';

export const TOKEN_PREFIX = 'suit_';
/** Longest bearer string accepted; anything longer is refused before hashing. */
export const MAX_TOKEN_LENGTH = 512;

export function generateTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests of equal length. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Resolves a bearer secret to an active token, or null. */
export async function resolveToken(store: StateStore, secret: string): Promise<TokenRecord | null> {
  if (secret.length === 0 || secret.length > MAX_TOKEN_LENGTH) return null;
  const hash = hashToken(secret);
  const rec = await store.findTokenByHash(hash);
  if (!rec || !hashesEqual(rec.hash, hash) || rec.revokedAt !== null) return null;
  return rec;
}

export interface IssuedToken { record: TokenRecord; secret: string }

/** Creates a token; the secret is returned exactly once and never stored. */
export async function issueToken(store: StateStore, opts: { role: Role; tenantId: string | null; label: string; secret?: string; now?: Date }): Promise<IssuedToken> {
  if (opts.tenantId === null && opts.role !== 'admin') {
    throw new UpdateError('VALIDATION_FAILED', 'only admin tokens may span tenants; give a tenantId');
  }
  const secret = opts.secret ?? generateTokenSecret();
  const record: TokenRecord = {
    id: newId('tok'), hash: hashToken(secret), role: opts.role, tenantId: opts.tenantId, label: opts.label,
    createdAt: (opts.now ?? new Date()).toISOString(), revokedAt: null,
  };
  await store.insertToken(record);
  return { record, secret };
}

/**
 * First start: if `envSecret` (SUIT_ADMIN_TOKEN) is given, make sure it is an active admin token;
 * otherwise, if no admin token exists yet, create one and return its secret so the caller prints it
 * once. Returns null when nothing new was created.
 */
export async function ensureAdminToken(store: StateStore, envSecret?: string): Promise<IssuedToken | null> {
  return store.transaction(async (tx) => {
    if (envSecret !== undefined && envSecret !== '') {
      if (envSecret.length < 16 || envSecret.length > MAX_TOKEN_LENGTH) {
        throw new UpdateError('VALIDATION_FAILED', 'SUIT_ADMIN_TOKEN must be 16..512 characters');
      }
      const existing = await tx.findTokenByHash(hashToken(envSecret));
      if (existing) {
        if (existing.role !== 'admin' || existing.revokedAt !== null) throw new UpdateError('CONFLICT', 'SUIT_ADMIN_TOKEN matches a non-admin or revoked token');
        return null;
      }
      const issued = await issueToken(tx, { role: 'admin', tenantId: null, label: 'SUIT_ADMIN_TOKEN', secret: envSecret });
      await tx.appendAudit({ actor: 'system', tenantId: null, action: 'token.create', target: issued.record.id, details: { role: 'admin', label: issued.record.label } });
      return null;
    }
    if ((await tx.countActiveAdminTokens()) > 0) return null;
    const issued = await issueToken(tx, { role: 'admin', tenantId: null, label: 'initial admin' });
    await tx.appendAudit({ actor: 'system', tenantId: null, action: 'token.create', target: issued.record.id, details: { role: 'admin', label: issued.record.label } });
    return issued;
  });
}
