/**
 * The longevity scenario's world, built once and shared by every flash profile: keys, the anchor
 * statements v1…v26 and a stream of ~100 signed releases (one a quarter for 25 years). No clock: a
 * "quarter" is only an index into this event list; sequence numbers are UTC-seconds-style values
 * computed from it (they cross 2038 = 2^31 s), never read from a clock.
 */
import {
  CMD,
  HssLmsSigner,
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
  type KeyRole,
  type SigningKey,
} from '../../manifest/index.js';
import { makeImage, type DeviceIdentity } from '../../device-bootloader-sim/index.js';

export const QUARTERS = 100;
/** 2023-11-14 (1.7e9 s) — sequence numbers are seconds since 1970; no device ever reads a clock. */
export const SEQ0 = 1_700_000_000n;
export const QUARTER_SECONDS = 7_889_400n;
export const IMAGE_SIZE = 12 * 1024;

export const seqOf = (q: number): bigint => SEQ0 + BigInt(q) * QUARTER_SECONDS;

export interface AnchorEvent {
  quarter: number;
  version: number;
  what: string;
  statement: Uint8Array;
}

export interface Release {
  quarter: number;
  seq: bigint;
  epoch: number;
  image: Uint8Array;
  envelope: Uint8Array;
  signers: string[];
  /** A build whose self-test fails on the device (reverted). */
  bad: boolean;
}

export interface World {
  identity: DeviceIdentity;
  keys: Record<string, SigningKey>;
  root: Uint8Array;
  events: AnchorEvent[];
  releases: Release[];
  factory: Release;
  /** Firmware signer names per anchor version. */
  fwSigners: Map<number, string[]>;
  sign(spec: { seq: bigint; epoch: number; image: Uint8Array; signers: string[]; quarter?: number }): Uint8Array;
  statement(set: AnchorSetInput, signers: string[]): Uint8Array;
  keyGenMs: number;
}

export const BAD_BUILDS = new Set([7, 27, 56, 77]);
export const EPOCH_BUMPS = new Set([21, 33, 61, 86]);
export const POWER_CUTS = new Map<number, 'stage' | 'swap'>([
  [10, 'stage'],
  [45, 'swap'],
  [72, 'stage'],
  [93, 'swap'],
]);
/** Quarters of the 20 routine rotations of the owner's HSS-LMS firmware key (years 12–25). */
export const ROTATIONS = Array.from({ length: 20 }, (_, i) => 48 + Math.round((i * 52) / 20));
/** HSS-LMS parameters used for every PQ key: one H5 tree, W8 (32 signatures of 1,296 B each). */
export const LMS_PARAMS = { heights: [5], w: 8 };

function lms(): SigningKey {
  return HssLmsSigner.generate(LMS_PARAMS);
}

export function buildWorld(): World {
  const vendorId = vendorIdFromDomain('longlife.example');
  const identity: DeviceIdentity = { vendorId, classId: classIdFrom(vendorId, 'meter-25'), deviceId: new Uint8Array(16).fill(0x25) };
  const t0 = Date.now();
  const keys: Record<string, SigningKey> = {
    E1: generateKey(-8),
    E2: generateKey(-8),
    E3: generateKey(-8),
    E4: generateKey(-8),
    OE: generateKey(-8),
    ATT: generateKey(-8), // an attacker's own key
    L1: lms(),
    LA1: lms(),
    OLA: lms(),
  };
  for (let i = 0; i <= ROTATIONS.length; i++) keys[`OL${i}`] = lms();
  const keyGenMs = Date.now() - t0;
  const k = (name: string): SigningKey => {
    const key = keys[name];
    if (!key) throw new Error(`no key ${name}`);
    return key;
  };
  const ak = (name: string, roles: KeyRole[]) => ({ ...k(name).publicKey(), roles });
  const kid = (name: string) => k(name).kid;
  const FA: KeyRole[] = ['firmware', 'anchors'];

  const statement = (set: AnchorSetInput, signers: string[]) => signAnchorStatement(set, signers.map(k));
  const sign = (r: { seq: bigint; epoch: number; image: Uint8Array; signers: string[]; quarter?: number }): Uint8Array => {
    const built = buildManifest({
      sequenceNumber: r.seq,
      components: [{ id: [new Uint8Array([0])], vendorId: identity.vendorId, classId: identity.classId, imageDigest: computeDigest(-16, r.image), imageSize: r.image.length }],
      version: [r.epoch, r.quarter ?? 0, 0],
      invoke: seq(dir(CMD.INVOKE)),
    });
    return encodeEnvelope(signEnvelope(built.envelope(), r.signers.map(k)));
  };

  // ---- anchor sets (docs/longevity.md has the table) ----
  const sets = new Map<number, AnchorSetInput>();
  const fwSigners = new Map<number, string[]>();
  sets.set(1, { version: 1, threshold: 1, anchorThreshold: 2, keys: [ak('E1', FA), ak('E2', FA)], revoked: [] });
  fwSigners.set(1, ['E1']);
  const root = statement(sets.get(1)!, ['E1', 'E2']);
  const events: AnchorEvent[] = [];
  const add = (quarter: number, what: string, set: AnchorSetInput, signers: string[], fw: string[]) => {
    sets.set(set.version, set);
    fwSigners.set(set.version, fw);
    events.push({ quarter, version: set.version, what, statement: statement(set, signers) });
  };
  add(12, 'routine rotation: E1 retired, E3 added', { version: 2, threshold: 1, anchorThreshold: 2, keys: [ak('E2', FA), ak('E3', FA)], revoked: [] }, ['E1', 'E2', 'E3'], ['E2']);
  add(20, 'E3 compromised: revoked, E4 added', { version: 3, threshold: 1, anchorThreshold: 2, keys: [ak('E2', FA), ak('E4', FA)], revoked: [kid('E3')] }, ['E2', 'E3', 'E4'], ['E2']);
  add(
    32,
    'post-quantum: HSS-LMS firmware key L1 + anchor key LA1, firmware needs Ed25519 AND HSS-LMS (threshold 2 of {E2, L1})',
    { version: 4, threshold: 2, anchorThreshold: 2, keys: [ak('E2', FA), ak('E4', ['anchors']), ak('L1', ['firmware']), ak('LA1', ['anchors'])], revoked: [kid('E3')] },
    ['E2', 'E4', 'LA1'],
    ['E2', 'L1'],
  );
  const owner = { name: 'owner', previous: 'vendor' };
  add(
    40,
    'handover vendor → owner (OE Ed25519, OL0 HSS-LMS firmware, OLA HSS-LMS anchors)',
    { version: 5, threshold: 2, anchorThreshold: 2, keys: [ak('OE', FA), ak('OL0', ['firmware']), ak('OLA', ['anchors'])], revoked: [kid('E3')], owner },
    ['E2', 'LA1', 'OE', 'OLA'],
    ['OE', 'OL0'],
  );
  add(
    44,
    'Ed25519 firmware key retired: HSS-LMS only (threshold 1 of {OL0})',
    { version: 6, threshold: 1, anchorThreshold: 2, keys: [ak('OE', ['anchors']), ak('OL0', ['firmware']), ak('OLA', ['anchors'])], revoked: [kid('E3')], owner },
    ['OE', 'OLA'],
    ['OL0'],
  );
  ROTATIONS.forEach((quarter, i) => {
    add(
      quarter,
      `routine rotation of the HSS-LMS firmware key OL${i} → OL${i + 1}`,
      { version: 7 + i, threshold: 1, anchorThreshold: 2, keys: [ak('OE', ['anchors']), ak(`OL${i + 1}`, ['firmware']), ak('OLA', ['anchors'])], revoked: [kid('E3')], owner },
      ['OE', 'OLA'],
      [`OL${i + 1}`],
    );
  });

  // ---- releases: one a quarter; the one before an anchor event is signed for both sets (bridge) ----
  const versionAt = (q: number): number => {
    let v = 1;
    for (const e of events) if (e.quarter <= q) v = e.version;
    return v;
  };
  const releases: Release[] = [];
  let epoch = 1;
  let last = makeImage(IMAGE_SIZE, 1000);
  const factory: Release = { quarter: 0, seq: seqOf(0), epoch, image: last, envelope: sign({ seq: seqOf(0), epoch, image: last, signers: ['E1'] }), signers: ['E1'], bad: false };
  for (let q = 1; q <= QUARTERS; q++) {
    if (EPOCH_BUMPS.has(q)) epoch++;
    const signers = [...new Set([...fwSigners.get(versionAt(q))!, ...fwSigners.get(versionAt(q + 1))!])];
    const bad = BAD_BUILDS.has(q);
    const image = makeImage(IMAGE_SIZE, 1000 + q, last);
    if (bad) image.set(new TextEncoder().encode('SELFTEST-FAIL'), 64);
    else last = image;
    releases.push({ quarter: q, seq: seqOf(q), epoch: bad ? epoch : epoch, image, envelope: sign({ seq: seqOf(q), epoch, image, signers, quarter: q }), signers, bad });
  }
  return { identity, keys, root, events, releases, factory, fwSigners, sign, statement, keyGenMs };
}
