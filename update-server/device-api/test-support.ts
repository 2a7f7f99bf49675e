/**
 * Helpers for device-API tests and the server benchmark: simulated devices (Ed25519 identity keys,
 * challenge signing, signed SUIT_Reports) and fixtures written straight into the stores.
 */
import { createHash, randomBytes } from 'node:crypto';
import { generateKey, signReport, toHex, type SigningKey, type SuitReport } from '../../manifest/index.js';
import type { ServerContext } from '../context.js';
import type { ReleaseRecord } from '../state/index.js';
import { envelopeKey, payloadKey } from '../storage/index.js';
import { authMessage } from './identity.js';
import { STATUS_CLAIM_COMPONENT, STATUS_CLAIM_PARAM } from './reports.js';

export const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface SimDevice { id: string; key: SigningKey; publicKey: Uint8Array }

export function simDevice(id: string): SimDevice {
  const key = generateKey('ed25519');
  return { id, key, publicKey: key.publicKey().publicKey };
}

export function signChallenge(d: SimDevice, challenge: Uint8Array): Uint8Array {
  return d.key.sign(authMessage(d.id, challenge));
}

/**
 * A signed SUIT_Report bound to `nonce`, made with the manifest API's signReport. It signs `status`
 * as the status claim the server requires; `opts.status` overrides the claim (to test a mismatch).
 */
export function signedReport(d: { key: SigningKey }, nonce: Uint8Array, status: string, opts: { failCode?: number; status?: string; digest?: Uint8Array } = {}): Uint8Array {
  const report: SuitReport = {
    reference: { uri: 'urn:test', digest: { alg: -16, bytes: opts.digest ?? new Uint8Array(32) } },
    nonce,
    records: [],
    result: opts.failCode === undefined ? true : { code: opts.failCode, reason: 11, record: { manifestId: [], section: 20, offset: 0, componentIndex: 0, properties: new Map() } },
    systemProperties: [{ componentId: [STATUS_CLAIM_COMPONENT], properties: new Map([[STATUS_CLAIM_PARAM, opts.status ?? status]]) }],
  };
  return signReport(report, d.key, nonce);
}

export async function addDevice(ctx: ServerContext, d: SimDevice, o: { tenantId: string | null; classId?: string; vendorId?: string; tags?: string[]; currentSeq?: number | bigint | null }): Promise<void> {
  const at = new Date().toISOString();
  await ctx.store.insertDevice({
    id: d.id, vendorId: o.vendorId ?? 'vendor-1', classId: o.classId ?? 'class-1', identityKey: toHex(d.publicKey), tenantId: o.tenantId,
    claimCodeHash: null, currentSeq: o.currentSeq === null ? null : BigInt(o.currentSeq ?? 1), currentDigest: null, lastSeen: null, createdAt: at, updatedAt: at, tags: o.tags ?? [],
  });
}

/** A release with one component image (stored as a payload) and an opaque envelope object. */
export async function addRelease(ctx: ServerContext, o: { sequence: number | bigint; image: Uint8Array; classId?: string; vendorId?: string; tenantId?: string | null }): Promise<ReleaseRecord> {
  const digest = sha256hex(o.image);
  await ctx.objects.put(payloadKey(digest), o.image, { sha256: digest, size: o.image.length });
  await ctx.store.putPayload({ sha256: digest, size: o.image.length, objectKey: payloadKey(digest), createdAt: new Date().toISOString() });
  const envelope = new Uint8Array(Buffer.concat([Buffer.from(`envelope seq ${o.sequence} `), randomBytes(64)]));
  const id = sha256hex(envelope);
  await ctx.objects.put(envelopeKey(id), envelope, { sha256: id, size: envelope.length });
  const rec: ReleaseRecord = {
    id, vendorId: o.vendorId ?? 'vendor-1', classId: o.classId ?? 'class-1', sequence: BigInt(o.sequence), version: `1.${o.sequence}`,
    components: [{ index: 0, id: ['00'], digest, size: o.image.length, uri: null }],
    envelopeKey: envelopeKey(id), envelopeSha256: id, envelopeSize: envelope.length, signers: ['k1'], deprecated: false,
    tenantId: o.tenantId ?? null, createdBy: 'test', createdAt: new Date().toISOString(),
  };
  await ctx.store.insertRelease(rec);
  return rec;
}
