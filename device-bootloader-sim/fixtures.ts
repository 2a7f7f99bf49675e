/**
 * Test and sweep fixtures: a vendor with Ed25519 keys, a device class, signed releases.
 * Used by the unit tests, the fault sweep and the CLI; not part of the device itself.
 */
import {
  CMD,
  buildManifest,
  classIdFrom,
  computeDigest,
  dir,
  encodeEnvelope,
  generateKey,
  seq,
  signAnchorStatement,
  signEnvelope,
  vendorIdFromDomain,
  type AnchorSetInput,
  type SigningKey,
} from '../manifest/index.js';
import { Device, type DeviceConfig } from './device.js';
import type { EraseValue } from './flash.js';
import { prng } from './flash.js';
import type { DeviceIdentity } from './verify.js';

export interface Vendor {
  key: SigningKey;
  identity: DeviceIdentity;
  /** The initial anchor set (v1) and its self-signed statement (what goes into OTP). */
  set: AnchorSetInput;
  anchors: Uint8Array;
}

export function anchorKey(k: SigningKey, roles: ('firmware' | 'anchors')[] = ['firmware', 'anchors']) {
  return { ...k.publicKey(), roles };
}

export function makeVendor(domain = 'example.com', model = 'sensor-1', extraKeys: SigningKey[] = []): Vendor {
  const key = generateKey(-8);
  const vendorId = vendorIdFromDomain(domain);
  const classId = classIdFrom(vendorId, model);
  const set: AnchorSetInput = {
    version: 1,
    threshold: 1,
    anchorThreshold: 1,
    keys: [anchorKey(key), ...extraKeys.map((k) => anchorKey(k))],
    revoked: [],
  };
  return {
    key,
    identity: { vendorId, classId, deviceId: new Uint8Array(16).fill(7) },
    set,
    anchors: signAnchorStatement(set, [key, ...extraKeys]),
  };
}

export interface ReleaseSpec {
  seq: number | bigint;
  image: Uint8Array;
  version?: number[];
  keys?: SigningKey[];
  vendorId?: Uint8Array;
  classId?: Uint8Array;
  /** Sign a different digest/size than the image (to build rejected images). */
  claimDigestOf?: Uint8Array;
  claimSize?: number;
}

/** A signed envelope for a single-image device: shared sets vendor/class/digest/size, validate = image-match, invoke. */
export function makeRelease(v: Vendor, r: ReleaseSpec): Uint8Array {
  const built = buildManifest({
    sequenceNumber: r.seq,
    components: [
      {
        id: [new Uint8Array([0])],
        vendorId: r.vendorId ?? v.identity.vendorId,
        classId: r.classId ?? v.identity.classId,
        imageDigest: computeDigest(-16, r.claimDigestOf ?? r.image),
        imageSize: r.claimSize ?? r.image.length,
      },
    ],
    ...(r.version ? { version: r.version } : {}),
    invoke: seq(dir(CMD.INVOKE)),
  });
  const env = signEnvelope(built.envelope(), r.keys ?? [v.key]);
  return encodeEnvelope(env);
}

/** Deterministic pseudo-firmware of `size` bytes (seeded; derived images share most bytes, like real builds). */
export function makeImage(size: number, seed: number, base?: Uint8Array): Uint8Array {
  const rnd = prng(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    if (base && i < base.length && rnd() < 0.97) out[i] = base[i]!;
    else out[i] = Math.floor(rnd() * 256);
  }
  return out;
}

/** A device from the factory with `image` (seq, version) installed and booted. */
export async function makeDevice(
  v: Vendor,
  profile: string,
  eraseValue: EraseValue,
  factory: { image: Uint8Array; seq: number; version?: number[] },
  extra: Partial<DeviceConfig> = {},
): Promise<Device> {
  const dev = new Device({ profile, eraseValue, identity: v.identity, anchors: v.anchors, ...extra });
  await dev.factoryInstall(makeRelease(v, { seq: factory.seq, image: factory.image, ...(factory.version ? { version: factory.version } : {}) }), factory.image);
  await dev.boot();
  return dev;
}
