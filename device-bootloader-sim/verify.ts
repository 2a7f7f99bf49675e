/**
 * Secure-boot verification of one slot: the SUIT envelope stored with the image, checked in the order
 * STYLE.md asks for — limit, shape, signature, then meaning:
 *   1. slot header present, envelope within the envelope area (limit);
 *   2. decodeEnvelope (strict CBOR, shape);
 *   3. verifyEnvelope against the current firmware trust anchors, revoked kids excluded (signature);
 *   4. device policy on the manifest: one component; vendor and class ids, image digest and size set in
 *      the shared sequence; vendor/class equal this device's; image size equals the slot header's and
 *      fits the slot; sequence number ≥ committed (boot) or > committed (install); security epoch ≥ the
 *      eFuse counter and reachable by it (MCUboot PR #2420: check before committing);
 *   5. processEnvelope(validate[, invoke]) on a platform backed by the slot: the manifest's own
 *      conditions (vendor, class, image-match over the flash bytes) must pass, and invoke hands over.
 *
 * Signature-check cache: `verifyEnvelope` is a pure function of (envelope bytes, key set). The
 * simulator memoises it by SHA-256 of the exact envelope bytes + the key-set fingerprint, which gives
 * the same answer as running it again. A real device could keep the same cache only in RAM for the
 * duration of one boot; it must not persist "verified" flags in flash (MCUboot's VALIDATE_ONCE weakens
 * security). The image digest is never cached: it is recomputed over flash at every verification.
 */
import {
  UpdateError,
  computeDigest,
  createHasher,
  decodeCoseMessage,
  decodeEnvelope,
  digestEquals,
  isUpdateError,
  processEnvelope,
  toHex,
  verifyEnvelope,
  bytesEqual,
  PARAM,
  type ComponentId,
  type ErrorCode,
  type Platform,
  type SuitDigest,
  type SuitEnvelope,
  type SuitManifest,
} from '../manifest/index.js';
import { anchorFingerprint, firmwareKeys, type DeviceAnchorSet } from './anchors.js';
import type { EfuseCounter } from './otp.js';
import type { Flash } from './flash.js';
import type { RamBudget } from './ram.js';
import { SLOT_HEADER_LEN, readSlotHeader, type SlotHeader } from './slot.js';

export interface DeviceIdentity {
  vendorId: Uint8Array;
  classId: Uint8Array;
  deviceId?: Uint8Array;
}

/** What the manifest claims about its single image (from the shared sequence). */
export interface ImageClaims {
  componentId: ComponentId;
  vendorId: Uint8Array;
  classId: Uint8Array;
  digest: SuitDigest;
  size: number;
  seq: bigint;
  /** Security epoch: set-version's first element (major), 0 without set-version. */
  epoch: number;
  version: number[] | undefined;
}

export interface VerifiedImage extends ImageClaims {
  header: SlotHeader;
  signers: string[];
  envelopeBytes: Uint8Array;
}

export interface PolicyContext {
  anchors: DeviceAnchorSet;
  identity: DeviceIdentity;
  committedSeq: bigint;
  /** true at boot (≥ committed), false when installing (> committed). */
  allowEqual: boolean;
  efuse: EfuseCounter;
  /** Largest image the slot takes. */
  maxImage: number;
}

const sigCache = new Map<string, { signers: string[] } | { code: ErrorCode; message: string }>();
let cacheEnabled = true;
/** Turn the signature memo off (tests of the uncached path) or clear it. */
export function setSignatureCache(enabled: boolean): void {
  cacheEnabled = enabled;
  sigCache.clear();
}

export function checkSignature(env: SuitEnvelope, bytes: Uint8Array, anchors: DeviceAnchorSet): string[] {
  const key = cacheEnabled ? `${toHex(computeDigest(-16, bytes).bytes)}|${anchorFingerprint(anchors)}` : '';
  const hit = cacheEnabled ? sigCache.get(key) : undefined;
  if (hit) {
    if ('signers' in hit) return hit.signers;
    throw new UpdateError(hit.code, hit.message);
  }
  try {
    // k-of-n with the set's firmware threshold; revoked keys never count (KEY_REVOKED).
    const r = verifyEnvelope(env, firmwareKeys(anchors), { threshold: anchors.threshold, revokedKids: anchors.revoked });
    if (cacheEnabled) sigCache.set(key, { signers: r.signers });
    return r.signers;
  } catch (e) {
    const err = isUpdateError(e) && e.code === 'KEY_UNTRUSTED' ? revokedSigner(env, anchors) ?? e : e;
    if (isUpdateError(err) && cacheEnabled) sigCache.set(key, { code: err.code, message: err.message });
    throw err;
  }
}

/** A revoked key is usually dropped from the set, so "untrusted" is refined to KEY_REVOKED when a signer's kid is on the revocation list. */
function revokedSigner(env: SuitEnvelope, anchors: DeviceAnchorSet): UpdateError | undefined {
  for (const block of env.authBlocks) {
    try {
      const msg = decodeCoseMessage(block);
      const kids = msg.kind === 'sign' ? msg.signatures.map((s) => s.kid) : [msg.kid];
      for (const kid of kids) {
        if (kid && anchors.revoked.includes(toHex(kid))) return new UpdateError('KEY_REVOKED', `envelope is signed by revoked key ${toHex(kid)}`);
      }
    } catch {
      /* malformed blocks were already judged by verifyEnvelope */
    }
  }
  return undefined;
}

/** Extract the image claims of a single-component manifest from its shared sequence. */
export function imageClaims(m: SuitManifest): ImageClaims {
  const comps = m.common.components;
  if (comps.length !== 1) throw new UpdateError('COMPONENT_UNKNOWN', `this device has one image component; the manifest names ${comps.length}`);
  const params = new Map<number, unknown>();
  let current = 0;
  for (const c of m.common.sharedSequence?.commands ?? []) {
    if (c.kind === 'set-component-index') current = typeof c.index === 'number' ? c.index : 0;
    else if (c.kind === 'set-parameters' && current === 0) {
      for (const [k, v] of c.params) if (c.code === 20 || !params.has(k)) params.set(k, v);
    }
  }
  const vendorId = params.get(PARAM.VENDOR_IDENTIFIER);
  const classId = params.get(PARAM.CLASS_IDENTIFIER);
  const digest = params.get(PARAM.IMAGE_DIGEST) as SuitDigest | undefined;
  const size = params.get(PARAM.IMAGE_SIZE);
  if (!(vendorId instanceof Uint8Array) || !(classId instanceof Uint8Array)) {
    throw new UpdateError('MANIFEST_MALFORMED', 'device policy: the shared sequence must set vendor and class identifiers');
  }
  if (!digest || !(digest.bytes instanceof Uint8Array) || (typeof size !== 'number' && typeof size !== 'bigint')) {
    throw new UpdateError('MANIFEST_MALFORMED', 'device policy: the shared sequence must set image digest and image size');
  }
  const version = m.setVersion;
  return {
    componentId: comps[0]!,
    vendorId,
    classId,
    digest,
    size: Number(size),
    seq: BigInt(m.sequenceNumber),
    epoch: version && version.length > 0 && version[0]! > 0 ? version[0]! : 0,
    version,
  };
}

/** Decode + signature + policy checks on envelope bytes (no image yet). */
export function checkEnvelope(bytes: Uint8Array, ctx: PolicyContext): { env: SuitEnvelope; claims: ImageClaims; signers: string[] } {
  const env = decodeEnvelope(bytes, { maxBytes: bytes.length });
  const signers = checkSignature(env, bytes, ctx.anchors);
  const claims = imageClaims(env.manifest);
  // RFC 9124 REQ.SEC.COMPATIBLE: vendor and class must be this device's.
  if (!bytesEqual(claims.vendorId, ctx.identity.vendorId)) throw new UpdateError('VENDOR_MISMATCH', 'image is for another vendor');
  if (!bytesEqual(claims.classId, ctx.identity.classId)) throw new UpdateError('CLASS_MISMATCH', 'image is for another device class');
  // REQ.SEC.SEQUENCE: monotonic sequence number against the committed anti-rollback counter.
  if (claims.seq < ctx.committedSeq || (!ctx.allowEqual && claims.seq === ctx.committedSeq)) {
    throw new UpdateError('ROLLBACK_REJECTED', `sequence number ${claims.seq} is below the committed ${ctx.committedSeq}`);
  }
  // Trust-anchor statements may raise a floor under the sequence number (docs/trust-anchors.md).
  if (ctx.anchors.minSequence !== undefined && claims.seq < BigInt(ctx.anchors.minSequence)) {
    throw new UpdateError('ROLLBACK_REJECTED', `sequence number ${claims.seq} is below the anchors' minimum ${ctx.anchors.minSequence}`);
  }
  if (claims.epoch < ctx.efuse.value) throw new UpdateError('ROLLBACK_REJECTED', `security epoch ${claims.epoch} is below the eFuse counter ${ctx.efuse.value}`);
  if (!ctx.efuse.canReach(claims.epoch)) throw new UpdateError('COUNTER_EXHAUSTED', `security epoch ${claims.epoch} exceeds the eFuse counter's ${ctx.efuse.bits} bits`);
  if (claims.size < 0 || claims.size > ctx.maxImage) throw new UpdateError('SLOT_TOO_SMALL', `image of ${claims.size} B exceeds the slot (${ctx.maxImage} B)`);
  return { env, claims, signers };
}

/** The processor's view of one slot (read-only: validate and invoke only). */
export class SlotPlatform implements Platform {
  invoked = false;
  constructor(
    private readonly flash: Flash,
    private readonly ram: RamBudget,
    private readonly imageBase: number,
    private readonly imageLength: number,
    private readonly identity: DeviceIdentity,
    private readonly componentId: ComponentId,
    private readonly hashBuffer: number,
  ) {}

  private check(id: ComponentId): void {
    if (id.length !== this.componentId.length || id.some((b, i) => !bytesEqual(b, this.componentId[i]!))) {
      throw new UpdateError('COMPONENT_UNKNOWN', 'unknown component');
    }
  }
  async read(id: ComponentId, offset = 0, length?: number): Promise<Uint8Array> {
    this.check(id);
    const len = length ?? this.imageLength - offset;
    if (offset < 0 || offset + len > this.imageLength) throw new UpdateError('FLASH_OUT_OF_RANGE', 'read past the image');
    return this.flash.read(this.imageBase + offset, len);
  }
  async size(id: ComponentId): Promise<number | undefined> {
    this.check(id);
    return this.imageLength;
  }
  async digest(id: ComponentId, alg: number, length?: number): Promise<SuitDigest | undefined> {
    this.check(id);
    return hashRegion(this.flash, this.ram, this.imageBase, Math.min(length ?? this.imageLength, this.imageLength), alg, this.hashBuffer);
  }
  async write(): Promise<void> {
    throw new UpdateError('COMMAND_UNSUPPORTED', 'the boot-time platform does not write');
  }
  async copy(): Promise<void> {
    throw new UpdateError('COMMAND_UNSUPPORTED', 'the boot-time platform does not copy');
  }
  async swap(): Promise<void> {
    throw new UpdateError('COMMAND_UNSUPPORTED', 'the boot-time platform does not swap');
  }
  async fetch(): Promise<void> {
    throw new UpdateError('COMMAND_UNSUPPORTED', 'the boot-time platform does not fetch');
  }
  async invoke(id: ComponentId): Promise<void> {
    this.check(id);
    this.invoked = true;
  }
  async vendorIds(): Promise<readonly Uint8Array[]> {
    return [this.identity.vendorId];
  }
  async classIds(): Promise<readonly Uint8Array[]> {
    return [this.identity.classId];
  }
  async deviceIds(): Promise<readonly Uint8Array[]> {
    return this.identity.deviceId ? [this.identity.deviceId] : [];
  }
  async componentSlot(): Promise<number | undefined> {
    return undefined;
  }
}

/** Stream a flash region through a hasher using one RAM-budgeted buffer. */
export function hashRegion(flash: Flash, ram: RamBudget, base: number, length: number, alg: number, bufSize: number): SuitDigest {
  return ram.with('hash buffer', bufSize, (buf) => {
    const h = createHasher(alg);
    for (let off = 0; off < length; off += bufSize) {
      const n = Math.min(bufSize, length - off);
      flash.readInto(base + off, buf, n);
      h.update(n === bufSize ? buf : buf.subarray(0, n));
    }
    return h.digest();
  });
}

export interface SlotLocation {
  base: number;
  envelopeArea: number;
  capacity: number;
}

/**
 * Full verification of the image stored at `loc`. `invoke` also runs the invoke section (boot).
 * Throws an UpdateError saying why the slot is not bootable.
 */
export async function verifySlot(
  flash: Flash,
  ram: RamBudget,
  loc: SlotLocation,
  ctx: PolicyContext,
  opts: { invoke: boolean; hashBuffer: number },
): Promise<VerifiedImage> {
  const header = readSlotHeader(flash, loc.base, loc.envelopeArea, loc.capacity);
  if (header === undefined) throw new UpdateError('NO_BOOTABLE_IMAGE', 'slot holds no complete image');
  const envBuf = ram.alloc('envelope', header.envelopeLength);
  try {
    flash.readInto(loc.base + SLOT_HEADER_LEN, envBuf);
    const { env, claims, signers } = checkEnvelope(envBuf, ctx);
    if (claims.size !== header.imageLength) throw new UpdateError('IMAGE_MISMATCH', 'slot image length differs from the signed image size');
    const imageBase = loc.base + loc.envelopeArea;
    // Our own digest check does not depend on the manifest having an image-match condition.
    const d = hashRegion(flash, ram, imageBase, header.imageLength, claims.digest.alg, opts.hashBuffer);
    if (!digestEquals(d, claims.digest)) throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', 'image digest does not match the signed digest');
    const platform = new SlotPlatform(flash, ram, imageBase, header.imageLength, ctx.identity, claims.componentId, opts.hashBuffer);
    const sections: ('validate' | 'invoke')[] = opts.invoke && env.manifest.invoke ? ['validate', 'invoke'] : ['validate'];
    if (env.manifest.validate) {
      const r = await processEnvelope(env, platform, {
        sections,
        rollback: { installed: ctx.committedSeq, allowEqual: ctx.allowEqual },
      });
      if (!r.ok) throw r.error ?? new UpdateError('CONDITION_FAILED', 'manifest validation failed');
    }
    return { ...claims, header, signers, envelopeBytes: envBuf.slice() };
  } finally {
    ram.free(envBuf);
  }
}
