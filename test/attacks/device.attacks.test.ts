/**
 * Attacks by a compromised server on a device in the field, grouped by RFC 9124 §4.2 threat id.
 *
 * The server is `EvilServer` (lab.ts): it speaks the device API v1 and serves whatever the attacker
 * chooses. The device is the real Device + UpdateAgent. Every test asserts the refusal CODE (the
 * device's signed report carries it) and that nothing that matters moved: running image, committed
 * sequence number, security counter.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  computeDigest,
  decodeEnvelope,
  encodeCbor,
  encodeEnvelope,
  fromHex,
  generateKey,
  verifyReport,
  toHex,
  parsePublicKey,
} from '../../manifest/index.js';
import { encodeDelta } from '../../delta/index.js';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import type { Device } from '../../device-bootloader-sim/index.js';
import type { UpdateAgent } from '../../device-bootloader-sim/agent/index.js';
import {
  EvilServer,
  agentFor,
  deviceFacts,
  flashMark,
  flashOpsSince,
  forgeDeltaHeader,
  makeFieldDevice,
  makeLab,
  refuses,
  sha256hex,
  type EvilUpdate,
  type Lab,
} from './lab.js';

let lab: Lab;
let evil: EvilServer;
let dev: Device;
let agent: UpdateAgent;
let v1: Uint8Array, v2: Uint8Array, v3: Uint8Array;
let env2: Uint8Array, env3: Uint8Array;
let nextId = 0;
ed.hashes.sha512 ??= sha512;

beforeAll(async () => {
  lab = makeLab();
  [v1, v2, v3] = lab.images as [Uint8Array, Uint8Array, Uint8Array];
  env2 = lab.release({ seq: 2, image: v2 });
  env3 = lab.release({ seq: 3, image: v3 });
  evil = await new EvilServer().start();
});
afterAll(async () => {
  await evil.close();
});
beforeEach(async () => {
  dev = await makeFieldDevice(lab);
  agent = agentFor(dev, evil.url);
  evil.update = undefined;
  evil.reports.length = 0;
  evil.sent.clear();
});

/** One poll cycle against the evil server offering `u` (fresh assignment id). Returns the last report. */
async function offer(u: EvilUpdate): Promise<{ status: string; code: string | undefined } | undefined> {
  evil.update = { assignmentId: `as-${++nextId}`, ...u };
  await agent.cycle();
  const r = evil.reports.at(-1);
  return r && { status: r.status, code: r.code };
}

const full = (bytes: Uint8Array, signedDigestOf: Uint8Array = bytes) => ({ kind: 'full' as const, bytes, sha256: sha256hex(signedDigestOf) });

/** The signed report really is the device's, bound to the nonce, and carries the same code byte. */
function checkSignedReport(code: string): void {
  const r = evil.reports.at(-1)!;
  const pub = parsePublicKey(new Uint8Array(Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(agentPub())])), { alg: -8 });
  const rep = verifyReport(r.report, pub, new Uint8Array(16).fill(9));
  expect(rep.result).not.toBe(true);
  expect(r.code).toBe(code);
}
function agentPub(): Uint8Array {
  // The device's public identity key, derived from the OTP secret (what the server registered).
  return ed.getPublicKey(dev.identityKey()!);
}

/** Nothing about the device moved: same image, same committed sequence, same counter. */
async function unchanged(before: ReturnType<typeof deviceFacts>): Promise<void> {
  await dev.reboot();
  expect(deviceFacts(dev)).toEqual(before);
}

// =====================================================================================================
describe('THREAT.IMG.NON_AUTH / THREAT.MFST.MODIFICATION — the device installs only what the vendor signed', () => {
  it('envelope re-signed by a key that is not in the device anchors → KEY_UNTRUSTED, nothing downloaded', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const forged = lab.release({ seq: 2, image: v3, keys: [generateKey(-8)] });
    expect(await offer({ envelope: forged, payloads: [full(v3)] })).toEqual({ status: 'failed', code: 'KEY_UNTRUSTED' });
    checkSignedReport('KEY_UNTRUSTED');
    expect(evil.sent.size).toBe(0);
    expect(flashOpsSince(dev, mark).writes).toBe(0);
    await unchanged(before);
  });

  it('envelope with one byte of the manifest changed (the image digest) → MANIFEST_DIGEST_MISMATCH', async () => {
    const before = deviceFacts(dev);
    const bad = env2.slice();
    const at = Buffer.from(bad).indexOf(Buffer.from(computeDigest(-16, v2).bytes));
    expect(at).toBeGreaterThan(0);
    bad[at + 5]! ^= 0x01;
    expect(await offer({ envelope: bad, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'MANIFEST_DIGEST_MISMATCH' });
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });

  it('envelope with one byte of the signature changed → SIGNATURE_INVALID', async () => {
    const before = deviceFacts(dev);
    const e = decodeEnvelope(env2);
    const block = e.authBlocks[0]!.slice();
    block[block.length - 3]! ^= 0x80;
    const bad = encodeEnvelope({ ...e, authBlocks: [block] });
    expect(await offer({ envelope: bad, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'SIGNATURE_INVALID' });
    await unchanged(before);
  });

  it('signature block moved from another signed manifest (release 3) onto release 2 → SIGNATURE_INVALID', async () => {
    const before = deviceFacts(dev);
    const a = decodeEnvelope(env2);
    const b = decodeEnvelope(env3);
    const moved = encodeEnvelope({ ...a, authBlocks: b.authBlocks });
    expect(await offer({ envelope: moved, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'SIGNATURE_INVALID' });
    await unchanged(before);
  });

  it('auth wrapper digest swapped (release 3 wrapper — digest and signature — on release 2 manifest) → MANIFEST_DIGEST_MISMATCH', async () => {
    const before = deviceFacts(dev);
    const a = decodeEnvelope(env2);
    const b = decodeEnvelope(env3);
    const swapped = encodeEnvelope({ ...a, digestBytes: b.digestBytes, authBlocks: b.authBlocks });
    expect(await offer({ envelope: swapped, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'MANIFEST_DIGEST_MISMATCH' });
    await unchanged(before);
  });

  it('manifest with no authentication block → AUTH_MISSING', async () => {
    const before = deviceFacts(dev);
    const stripped = encodeEnvelope({ ...decodeEnvelope(env2), authBlocks: [] });
    expect(await offer({ envelope: stripped, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'AUTH_MISSING' });
    await unchanged(before);
  });

  it('a validly signed envelope plus a second block by a key the device trusts that does not verify → SIGNATURE_INVALID', async () => {
    const before = deviceFacts(dev);
    const a = decodeEnvelope(env2);
    const b = decodeEnvelope(env3);
    const mixed = encodeEnvelope({ ...a, authBlocks: [a.authBlocks[0]!, b.authBlocks[0]!] });
    expect(await offer({ envelope: mixed, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'SIGNATURE_INVALID' });
    await unchanged(before);
  });

  it('the server serves other bytes under the signed digest (full image) → PAYLOAD_DIGEST_MISMATCH, never marked pending', async () => {
    const before = deviceFacts(dev);
    const evilImage = v2.slice();
    evilImage[1000]! ^= 0xff;
    expect(await offer({ envelope: env2, payloads: [full(evilImage, v2)] })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    checkSignedReport('PAYLOAD_DIGEST_MISMATCH');
    expect(dev.state.phase).toBe('idle');
    await unchanged(before);
  });

  it('control: the genuine release installs (the lab is not refusing everything)', async () => {
    expect(await offer({ envelope: env2, payloads: [full(v2)] })).toEqual({ status: 'confirmed', code: undefined });
    expect(deviceFacts(dev).committed).toBe(2n);
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });
});

// =====================================================================================================
describe('THREAT.IMG.EXPIRED — rollback: sequence number and security counter only move forward', () => {
  beforeEach(async () => {
    // The device runs release 2 (installed over the air, confirmed).
    expect(await offer({ envelope: env2, payloads: [full(v2)] })).toMatchObject({ status: 'confirmed' });
    evil.reports.length = 0;
    evil.sent.clear();
  });

  it('the server offers an older signed release (sequence 1) → ROLLBACK_REJECTED before any download', async () => {
    const before = deviceFacts(dev);
    const env1 = lab.release({ seq: 1, image: v1 });
    expect(await offer({ envelope: env1, payloads: [full(v1)], sequence: 1 })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });

  it('the server offers the same sequence again (the running release, a new assignment) → ROLLBACK_REJECTED', async () => {
    const before = deviceFacts(dev);
    expect(await offer({ envelope: env2, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    await unchanged(before);
  });

  it('the same sequence number signed over a different image → ROLLBACK_REJECTED', async () => {
    const before = deviceFacts(dev);
    const other = lab.release({ seq: 2, image: v3 });
    expect(await offer({ envelope: other, payloads: [full(v3)] })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    await unchanged(before);
  });

  it('an older release after an interrupted update (power cut mid-download of release 3) → ROLLBACK_REJECTED, counters unchanged', async () => {
    const before = deviceFacts(dev);
    const cutAgent = agentFor(dev, evil.url, { faults: { powerCut: () => 6 } });
    evil.update = { assignmentId: `as-${++nextId}`, envelope: env3, payloads: [full(v3)] };
    await refuses(cutAgent.cycle(), 'POWER_LOSS');
    dev.faults.arm(undefined);
    await cutAgent.powerOn();
    expect(deviceFacts(dev)).toEqual(before);
    // The server now switches the device to the old release 1 instead.
    agent = cutAgent;
    const env1 = lab.release({ seq: 1, image: v1 });
    expect(await offer({ envelope: env1, payloads: [full(v1)], sequence: 1 })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    await unchanged(before);
  });

  it('an older release after an update that was reverted (failed self-test) → ROLLBACK_REJECTED; committed stays 2', async () => {
    const sick = agentFor(dev, evil.url, { healthCheck: () => false });
    agent = sick;
    expect(await offer({ envelope: env3, payloads: [full(v3)] })).toEqual({ status: 'reverted', code: 'HEALTH_CHECK_FAILED' });
    const before = deviceFacts(dev);
    expect(before.committed).toBe(2n);
    expect(before.digest).toBe(sha256hex(v2));
    const env1 = lab.release({ seq: 1, image: v1 });
    expect(await offer({ envelope: env1, payloads: [full(v1)], sequence: 1 })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    await unchanged(before);
  });

  it('the security epoch (eFuse) never moves back: a higher sequence with a lower epoch → ROLLBACK_REJECTED', async () => {
    const e3 = lab.release({ seq: 3, image: v3, version: [2, 0, 0] });
    expect(await offer({ envelope: e3, payloads: [full(v3)] })).toMatchObject({ status: 'confirmed' });
    expect(dev.bootInfo().securityCounter).toBe(2);
    const before = deviceFacts(dev);
    const lowerEpoch = lab.release({ seq: 4, image: v2, version: [1, 9, 0] });
    expect(await offer({ envelope: lowerEpoch, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'ROLLBACK_REJECTED' });
    await unchanged(before);
    expect(dev.efuse.value).toBe(2);
  });
});

// =====================================================================================================
describe('THREAT.IMG.INCOMPATIBLE — a validly signed release for another device', () => {
  it('signed by our vendor for another class → CLASS_MISMATCH, nothing downloaded', async () => {
    const before = deviceFacts(dev);
    const other = lab.release({ seq: 2, image: v2, classId: new Uint8Array(16).fill(0x42) });
    expect(await offer({ envelope: other, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'CLASS_MISMATCH' });
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });

  it('signed by our vendor key but naming another vendor id → VENDOR_MISMATCH', async () => {
    const before = deviceFacts(dev);
    const other = lab.release({ seq: 2, image: v2, vendorId: new Uint8Array(16).fill(0x24) });
    expect(await offer({ envelope: other, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'VENDOR_MISMATCH' });
    await unchanged(before);
  });

  it("another vendor's genuine release (its own key, its own ids) → KEY_UNTRUSTED", async () => {
    const before = deviceFacts(dev);
    const otherLab = makeLab(4096);
    const theirs = otherLab.release({ seq: 2, image: otherLab.images[1]! });
    expect(await offer({ envelope: theirs, payloads: [full(otherLab.images[1]!)] })).toEqual({ status: 'failed', code: 'KEY_UNTRUSTED' });
    await unchanged(before);
  });
});

// =====================================================================================================
describe('THREAT.UPD.WRONG_PRECURSOR — deltas cannot be aimed at the wrong image', () => {
  const delta = (patch: Uint8Array, to: Uint8Array) => ({ kind: 'delta' as const, bytes: patch, sha256: sha256hex(patch), from: sha256hex(v1), to: sha256hex(to) });

  it('a delta made against another precursor (server claims it is for the running image) → PATCH_PRECURSOR_MISMATCH, zero writes', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const patch = encodeDelta(v3, v2);
    expect(await offer({ envelope: env2, payloads: [delta(patch, v2)] })).toEqual({ status: 'failed', code: 'PATCH_PRECURSOR_MISMATCH' });
    const ops = flashOpsSince(dev, mark);
    expect(ops.writes).toBe(0);
    // At most the erase that invalidates an old staged candidate (the secondary's header unit).
    expect(ops.erases).toBeLessThanOrEqual(1);
    await unchanged(before);
  });

  it('a forged header naming the running digest over a patch for another precursor → refused, zero writes', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const patch = forgeDeltaHeader(encodeDelta(v3, v2), { oldDigest: computeDigest(-16, v1).bytes, oldSize: v1.length });
    const r = await offer({ envelope: env2, payloads: [delta(patch, v2)] });
    // The body now reads the real v1 where v3 was meant: its own consistency checks (range coder end,
    // transport CRC) refuse it; had they not, the signed target digest would (next test).
    expect(r).toEqual({ status: 'failed', code: 'PATCH_MALFORMED' });
    expect(dev.state.phase).toBe('idle');
    expect(flashOpsSince(dev, mark).bytesWritten).toBeLessThanOrEqual(v2.length + dev.profile.stagePage);
    await unchanged(before);
  });

  it('a well-formed patch for the running image that rebuilds a different image (v3) → PAYLOAD_DIGEST_MISMATCH after apply', async () => {
    const before = deviceFacts(dev);
    const patch = encodeDelta(v1, v3);
    expect(await offer({ envelope: env2, payloads: [delta(patch, v2)] })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    expect(dev.state.phase).toBe('idle');
    await unchanged(before);
  });

  it('with the full image also offered, a bad patch costs one retry with the full image, not the update', async () => {
    const patch = encodeDelta(v1, v3);
    evil.update = { assignmentId: `as-${++nextId}`, envelope: env2, payloads: [full(v2), delta(patch, v2)] };
    await agent.cycle(); // the delta fails → falls back
    await agent.cycle(); // the full image
    expect(evil.reports.at(-1)).toMatchObject({ status: 'confirmed' });
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });

  it('hostile patch header: output size 4 GiB − 1 → PATCH_OUTPUT_OVERFLOW before any write', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const patch = forgeDeltaHeader(encodeDelta(v1, v2), { newSize: 0xffffffff });
    expect(await offer({ envelope: env2, payloads: [delta(patch, v2)] })).toEqual({ status: 'failed', code: 'PATCH_OUTPUT_OVERFLOW' });
    expect(flashOpsSince(dev, mark).writes).toBe(0);
    await unchanged(before);
  });

  it('hostile patch header: precursor size 4 GiB − 1 → PATCH_PRECURSOR_MISMATCH before any write', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const patch = forgeDeltaHeader(encodeDelta(v1, v2), { oldSize: 0xffffffff });
    expect(await offer({ envelope: env2, payloads: [delta(patch, v2)] })).toEqual({ status: 'failed', code: 'PATCH_PRECURSOR_MISMATCH' });
    expect(flashOpsSince(dev, mark).writes).toBe(0);
    await unchanged(before);
  });

  it('hostile patch body: lengths that run past the signed size (header says the signed size) → PATCH_OUTPUT_OVERFLOW, never more than the signed size written', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const longer = new Uint8Array(v2.length + 8192);
    longer.set(v2);
    longer.fill(0x5a, v2.length);
    const patch = forgeDeltaHeader(encodeDelta(v1, longer), { newSize: v2.length });
    expect(await offer({ envelope: env2, payloads: [delta(patch, v2)] })).toEqual({ status: 'failed', code: 'PATCH_OUTPUT_OVERFLOW' });
    expect(flashOpsSince(dev, mark).bytesWritten).toBeLessThanOrEqual(v2.length);
    await unchanged(before);
  });

  it('a truncated patch → refused (PATCH_TRUNCATED), never marked pending', async () => {
    const before = deviceFacts(dev);
    const patch = encodeDelta(v1, v2);
    const cut = patch.subarray(0, Math.floor(patch.length / 2));
    expect(await offer({ envelope: env2, payloads: [delta(cut, v2)] })).toEqual({ status: 'failed', code: 'PATCH_TRUNCATED' });
    expect(dev.state.phase).toBe('idle');
    await unchanged(before);
  });
});

// =====================================================================================================
describe('THREAT.IMG.EXTRA / REQ.SEC.IMG.COMPLETE_DIGEST — exactly the signed bytes, no more, no less', () => {
  it('payload with extra bytes appended (and the server claims the longer size) → PATCH_OUTPUT_OVERFLOW before any download', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const extra = new Uint8Array(v2.length + 4096);
    extra.set(v2);
    extra.fill(0xcc, v2.length);
    expect(await offer({ envelope: env2, payloads: [full(extra, v2)] })).toEqual({ status: 'failed', code: 'PATCH_OUTPUT_OVERFLOW' });
    // The claimed size is compared with the signed size first: nothing fetched, nothing written.
    expect(evil.sent.size).toBe(0);
    expect(flashOpsSince(dev, mark)).toEqual({ writes: 0, erases: 0, bytesWritten: 0 });
    await unchanged(before);
  });

  it('payload with extra bytes appended but the signed size claimed → the extra bytes never reach flash; the signed image installs', async () => {
    const extra = new Uint8Array(v2.length + 4096);
    extra.set(v2);
    extra.fill(0xcc, v2.length);
    expect(await offer({ envelope: env2, payloads: [{ kind: 'full', bytes: extra, size: v2.length, sha256: sha256hex(v2) }] })).toMatchObject({ status: 'confirmed' });
    expect(dev.readPrimaryImage().length).toBe(v2.length);
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });

  it('truncated payload (server claims the shorter size) → PAYLOAD_DIGEST_MISMATCH before any download', async () => {
    const before = deviceFacts(dev);
    const short = v2.subarray(0, v2.length - 100);
    expect(await offer({ envelope: env2, payloads: [full(short, v2)] })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    expect(evil.sent.size).toBe(0);
    expect(dev.state.phase).toBe('idle');
    await unchanged(before);
  });

  it('a signed image larger than the slot → SLOT_TOO_SMALL in the pre-check, nothing downloaded', async () => {
    const before = deviceFacts(dev);
    const huge = lab.release({ seq: 2, image: v2, claimSize: dev.layout.primary.size });
    expect(await offer({ envelope: huge, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'SLOT_TOO_SMALL' });
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });

  it('the server names no payload with the signed digest → PAYLOAD_MISSING, reported signed, remembered, nothing downloaded', async () => {
    const before = deviceFacts(dev);
    expect(await offer({ envelope: env2, payloads: [full(v3)] })).toEqual({ status: 'failed', code: 'PAYLOAD_MISSING' });
    checkSignedReport('PAYLOAD_MISSING');
    const reports = evil.reports.length;
    await agent.cycle(); // the same assignment again: not retried, not reported again
    expect(evil.reports.length).toBe(reports);
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });
});

describe('THREAT.IMG.EXTRA (envelope side) — unsigned padding added to a genuine envelope', () => {
  const padded = () => encodeEnvelope({ ...decodeEnvelope(env2), integrated: new Map([['#junk', new Uint8Array(6000)]]) });

  it('padded beyond the envelope area, staged by the device → INPUT_TOO_LARGE before any flash operation (fixed in Device.beginStage)', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    await refuses(() => dev.beginStage(padded()), 'INPUT_TOO_LARGE');
    expect(flashOpsSince(dev, mark)).toEqual({ writes: 0, erases: 0, bytesWritten: 0 });
    await unchanged(before);
  });

  // Finding F4 (fixed, docs/threat-model.md): the agent's pre-check bounds the envelope by the envelope
  // area with the same assertFits as Device.beginStage, so nothing is downloaded or written.
  it('padded beyond the envelope area, through the agent → INPUT_TOO_LARGE before any download', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const r = await offer({ envelope: padded(), payloads: [full(v2)] });
    expect(evil.sent.size).toBe(0);
    expect(r).toEqual({ status: 'failed', code: 'INPUT_TOO_LARGE' });
    checkSignedReport('INPUT_TOO_LARGE');
    expect(flashOpsSince(dev, mark)).toEqual({ writes: 0, erases: 0, bytesWritten: 0 });
    await unchanged(before);
  });

  it('padded through the agent: whatever the code, nothing is marked pending and the old image runs', async () => {
    const before = deviceFacts(dev);
    const r = await offer({ envelope: padded(), payloads: [full(v2)] });
    expect(r?.status).toBe('failed');
    expect(dev.state.phase).toBe('idle');
    await unchanged(before);
  });
});

// =====================================================================================================
describe('mix-and-match (TUF) — an envelope with another release\'s payload', () => {
  it("release 2's envelope with release 3's image (served under release 2's digest) → PAYLOAD_DIGEST_MISMATCH", async () => {
    const before = deviceFacts(dev);
    expect(await offer({ envelope: env2, payloads: [full(v3, v2)] })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    await unchanged(before);
  });

  it("release 3's envelope with release 2's image → PAYLOAD_DIGEST_MISMATCH", async () => {
    const before = deviceFacts(dev);
    expect(await offer({ envelope: env3, payloads: [full(v2, v3)], sequence: 3 })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    await unchanged(before);
  });

  it("release 3's envelope with a genuine delta v1→v2 (a patch for another target) → PAYLOAD_DIGEST_MISMATCH", async () => {
    const before = deviceFacts(dev);
    const patch = encodeDelta(v1, v2);
    const r = await offer({ envelope: env3, sequence: 3, payloads: [{ kind: 'delta', bytes: patch, sha256: sha256hex(patch), from: sha256hex(v1), to: sha256hex(v3) }] });
    expect(r).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    await unchanged(before);
  });
});

// =====================================================================================================
describe('THREAT.MFST.TOCTOU / THREAT.IMG.REPLACE — flash changed after verification is refused at boot', () => {
  it('candidate image modified in flash after staging, before boot → rejected at boot (PAYLOAD_DIGEST_MISMATCH), old image runs', async () => {
    const before = deviceFacts(dev);
    await dev.stage(env2, v2);
    expect(dev.state.phase).toBe('pending');
    dev.flash.data[dev.stagedBase + dev.profile.envelopeArea + 777]! ^= 0x01;
    const info = await dev.reboot();
    expect(info.lastUpdate).toBe('rejected');
    expect(info.lastError).toBe('PAYLOAD_DIGEST_MISMATCH');
    expect(deviceFacts(dev)).toEqual(before);
  });

  it('candidate envelope modified in flash after staging (sequence byte) → rejected at boot, old image runs', async () => {
    const before = deviceFacts(dev);
    await dev.stage(env2, v2);
    const at = dev.stagedBase + 32 + Buffer.from(env2).indexOf(Buffer.from(decodeEnvelope(env2).manifestBstr)) + 8;
    dev.flash.data[at]! ^= 0x04;
    const info = await dev.reboot();
    expect(info.lastUpdate).toBe('rejected');
    expect(['MANIFEST_DIGEST_MISMATCH', 'CBOR_MALFORMED', 'MANIFEST_MALFORMED', 'CBOR_NOT_PREFERRED']).toContain(info.lastError);
    expect(deviceFacts(dev)).toEqual(before);
  });

  it("candidate's envelope replaced in flash by another validly signed envelope of the same length → rejected (PAYLOAD_DIGEST_MISMATCH)", async () => {
    const before = deviceFacts(dev);
    const env3same = lab.release({ seq: 2, image: v3 });
    expect(env3same.length).toBe(env2.length);
    await dev.stage(env2, v2);
    dev.flash.data.set(env3same, dev.stagedBase + 32);
    const info = await dev.reboot();
    expect(info.lastUpdate).toBe('rejected');
    expect(info.lastError).toBe('PAYLOAD_DIGEST_MISMATCH');
    expect(deviceFacts(dev)).toEqual(before);
  });

  it('the new image modified in the primary during its trial boot → verification fails, the device reverts to the old image', async () => {
    // A profile with two trial boots, so the second trial boot really re-verifies (one trial boot reverts unconfirmed).
    dev = await makeFieldDevice(lab, { profile: 'stm32f4' });
    const before = deviceFacts(dev);
    await dev.stage(env2, v2);
    let info = await dev.reboot();
    expect(info.trial).toBe(true);
    dev.flash.data[dev.layout.primary.offset + dev.profile.envelopeArea + 99]! ^= 0x10;
    info = await dev.reboot();
    expect(info.lastUpdate).toBe('reverted');
    expect(info.revertReason).toBe('verification-failed');
    expect(info.lastError).toBe('PAYLOAD_DIGEST_MISMATCH');
    expect(deviceFacts(dev)).toEqual(before);
  });

  it('the running image modified at rest → the bootloader refuses to run it (PAYLOAD_DIGEST_MISMATCH), nothing runs', async () => {
    dev.flash.data[dev.layout.primary.offset + dev.profile.envelopeArea + 5]! ^= 0x01;
    await refuses(dev.reboot(), 'PAYLOAD_DIGEST_MISMATCH');
    expect(dev.running).toBeUndefined();
  });
});

// =====================================================================================================
describe('resource exhaustion — the device refuses quickly with bounded memory', () => {
  it('a 10 MiB poll answer (envelope inline) → INPUT_TOO_LARGE without reading the body', async () => {
    const before = deviceFacts(dev);
    const t0 = Date.now();
    await refuses(offer({ envelope: new Uint8Array(10 * 1024 * 1024), payloads: [full(v2)] }), 'INPUT_TOO_LARGE');
    expect(Date.now() - t0).toBeLessThan(5000);
    // Its Content-Length is above the answer limit: refused before the body is read.
    expect(agent.stats().bytesReceived).toBeLessThan(64 * 1024);
    await unchanged(before);
  });

  it('an endless chunked poll answer (no Content-Length) → INPUT_TOO_LARGE, reading stops at the answer limit, connection closed', async () => {
    const before = deviceFacts(dev);
    const { createServer } = await import('node:http');
    let open = 0;
    let sent = 0;
    const s = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/cbor');
      if (req.url?.includes('/auth/challenge')) return res.end(Buffer.from(encodeCbor(new Map([['challenge', new Uint8Array(32)]]))));
      if (req.url?.includes('/auth/token')) return res.end(Buffer.from(encodeCbor(new Map([['token', 't']]))));
      open++;
      let gone = false;
      res.on('close', () => {
        gone = true;
        open--;
      });
      const chunk = Buffer.alloc(16 * 1024, 0x40);
      const pump = (): void => {
        while (!gone && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const a = agentFor(dev, `http://127.0.0.1:${(s.address() as { port: number }).port}`);
      await refuses(a.cycle(), 'INPUT_TOO_LARGE');
      // At most the 256 KiB answer limit plus one read, not the 64 MiB the server would send.
      expect(a.stats().bytesReceived).toBeLessThan(256 * 1024 + 128 * 1024);
      const t0 = Date.now();
      while (open > 0 && Date.now() - t0 < 1500) await new Promise((r) => setTimeout(r, 20));
      expect(open).toBe(0);
      expect(sent).toBeLessThan(16 * 1024 * 1024);
    } finally {
      s.closeAllConnections();
      s.close();
    }
    await unchanged(before);
  });

  // Finding F2 (fixed): the RAM budget refusal is a pre-check failure like any other.
  it('a 60 KiB envelope inline (more than the device RAM) → RAM_BUDGET_EXCEEDED, reported signed, remembered, before any download', async () => {
    const junk = encodeCbor(new Uint8Array(60 * 1024));
    expect(await offer({ envelope: junk, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'RAM_BUDGET_EXCEEDED' });
    checkSignedReport('RAM_BUDGET_EXCEEDED');
    expect(evil.sent.size).toBe(0);
    expect(agent.stats().peakRamBytes).toBeLessThanOrEqual(dev.ram.limit);
    // The same assignment again: remembered, not tried and not reported again.
    const reports = evil.reports.length;
    await agent.cycle();
    await agent.cycle();
    expect(evil.reports.length).toBe(reports);
    expect(evil.sent.size).toBe(0);
    // A newer assignment is still tried.
    expect(await offer({ envelope: env2, payloads: [full(v2)] })).toMatchObject({ status: 'confirmed' });
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });

  it('CBOR nesting bomb as the envelope (10 000 nested arrays) → CBOR_TOO_DEEP', async () => {
    const before = deviceFacts(dev);
    const bomb = new Uint8Array(10_000).fill(0x81);
    expect(await offer({ envelope: bomb, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'CBOR_TOO_DEEP' });
    await unchanged(before);
  });

  it('CBOR nesting bomb inside the manifest bstr of an otherwise well-shaped envelope → CBOR_TOO_DEEP', async () => {
    const before = deviceFacts(dev);
    const e = decodeEnvelope(env2);
    const inner = new Uint8Array(2000).fill(0x81);
    const bstr = encodeCbor(inner);
    const bomb = encodeEnvelope({ ...e, manifestBstr: bstr });
    expect(await offer({ envelope: bomb, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'CBOR_TOO_DEEP' });
    await unchanged(before);
  });

  it('CBOR nesting bomb as the poll answer itself → CBOR_TOO_DEEP', async () => {
    const before = deviceFacts(dev);
    const { createServer } = await import('node:http');
    const s = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/cbor');
      if (req.url?.includes('/auth/challenge')) return res.end(Buffer.from(encodeCbor(new Map([['challenge', new Uint8Array(32)]]))));
      if (req.url?.includes('/auth/token')) return res.end(Buffer.from(encodeCbor(new Map([['token', 't']]))));
      res.end(Buffer.alloc(50_000, 0x81));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const a = agentFor(dev, `http://127.0.0.1:${(s.address() as { port: number }).port}`);
      await refuses(a.cycle(), 'CBOR_TOO_DEEP');
    } finally {
      s.closeAllConnections();
      s.close();
    }
    await unchanged(before);
  });

  it('a poll answer claiming a 4 GiB payload (endless stream) → PATCH_OUTPUT_OVERFLOW before any download', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const t0 = Date.now();
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0xaa };
    expect(await offer({ envelope: env2, payloads: [{ kind: 'full', bytes: endless, size: 2 ** 32, sha256: sha256hex(v2) }] })).toEqual({ status: 'failed', code: 'PATCH_OUTPUT_OVERFLOW' });
    checkSignedReport('PATCH_OUTPUT_OVERFLOW');
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The claim is compared with the signed size before the download: not one payload byte.
    expect(evil.sent.size).toBe(0);
    expect(flashOpsSince(dev, mark)).toEqual({ writes: 0, erases: 0, bytesWritten: 0 });
    expect(agent.stats().peakRamBytes).toBeLessThanOrEqual(dev.ram.limit);
    await unchanged(before);
  });

  it('an endless full payload under the signed size claim → reading stops at the signed size, connection closed, PAYLOAD_DIGEST_MISMATCH', async () => {
    const before = deviceFacts(dev);
    const openBefore = evil.active;
    const mark = flashMark(dev);
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0xaa };
    expect(await offer({ envelope: env2, payloads: [{ kind: 'full', bytes: endless, size: v2.length, sha256: sha256hex(v2) }] })).toEqual({ status: 'failed', code: 'PAYLOAD_DIGEST_MISMATCH' });
    expect(flashOpsSince(dev, mark).bytesWritten).toBeLessThanOrEqual(v2.length);
    // What the device took in is bounded by the signed size plus one read, not by the stream.
    expect(agent.stats().bytesReceived).toBeLessThan(v2.length + 128 * 1024);
    const t0 = Date.now();
    while (evil.active > openBefore && Date.now() - t0 < 1500) await new Promise((r) => setTimeout(r, 20));
    expect(evil.active).toBe(openBefore);
    expect(evil.sentTotal()).toBeLessThan(16 * 1024 * 1024);
    await unchanged(before);
  });

  // Finding F3 (fixed): when the sink throws, transport.download() aborts the fetch and cancels the reader.
  it('after refusing an endless patch (the sink throws) the device closes the connection (the server cannot hold it open)', async () => {
    const before = deviceFacts(dev);
    const openBefore = evil.active;
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0x00 };
    // A patch size claim below the signed size passes the size check; the bytes never end.
    const r = await offer({ envelope: env2, payloads: [{ kind: 'delta', bytes: endless, size: v2.length, sha256: '11'.repeat(32), from: sha256hex(v1), to: sha256hex(v2) }] });
    expect(r).toEqual({ status: 'failed', code: 'PATCH_MALFORMED' });
    const t0 = Date.now();
    while (evil.active > openBefore && Date.now() - t0 < 1500) await new Promise((r) => setTimeout(r, 20));
    expect(evil.active).toBe(openBefore);
    expect(evil.sentTotal()).toBeLessThan(16 * 1024 * 1024);
    expect(agent.stats().bytesReceived).toBeLessThan(128 * 1024);
    await unchanged(before);
  });

  it('a 4 GiB delta claim (endless patch stream) → PATCH_MALFORMED before any download, nothing written', async () => {
    const before = deviceFacts(dev);
    const mark = flashMark(dev);
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0x00 };
    const r = await offer({ envelope: env2, payloads: [{ kind: 'delta', bytes: endless, size: 2 ** 32, sha256: '11'.repeat(32), from: sha256hex(v1), to: sha256hex(v2) }] });
    expect(r).toEqual({ status: 'failed', code: 'PATCH_MALFORMED' });
    checkSignedReport('PATCH_MALFORMED');
    // A patch above the signed image size is never worth it: not fetched at all.
    expect(evil.sent.size).toBe(0);
    expect(flashOpsSince(dev, mark)).toEqual({ writes: 0, erases: 0, bytesWritten: 0 });
    await unchanged(before);
  });

  it('a 4 GiB delta claim next to the genuine full image → the delta is never fetched, the full image installs', async () => {
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0x00 };
    const r = await offer({ envelope: env2, payloads: [{ kind: 'delta', bytes: endless, size: 2 ** 32, sha256: '11'.repeat(32), from: sha256hex(v1), to: sha256hex(v2) }, full(v2)] });
    expect(r).toMatchObject({ status: 'confirmed' });
    expect(evil.sent.has('/evil/payload/0')).toBe(false);
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });

  // Finding F1 (fixed): the envelope size the server names is bounded by the envelope area before the
  // download, and the download takes no more than that.
  it('an envelope by URL that the server claims is 10 MiB → INPUT_TOO_LARGE before downloading anything, reported, remembered', async () => {
    const before = deviceFacts(dev);
    const size = 10 * 1024 * 1024;
    const big = { streamed: true as const, length: size, fill: 0x81 };
    // The server even names the right sha256 of its 10 MiB, so only a size limit can stop the download.
    const digest = sha256hex(new Uint8Array(size).fill(0x81));
    expect(await offer({ envelope: null, envelopeObject: big, envelopeSha256: digest, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'INPUT_TOO_LARGE' });
    checkSignedReport('INPUT_TOO_LARGE');
    expect(evil.sent.size).toBe(0);
    expect(evil.log.filter((l) => l.endsWith('/evil/envelope'))).toHaveLength(0);
    expect(agent.stats().bytesReceived).toBeLessThan(64 * 1024);
    // Remembered: the same assignment is not fetched or reported again.
    const reports = evil.reports.length;
    await agent.cycle();
    expect(evil.reports.length).toBe(reports);
    expect(evil.sent.size).toBe(0);
    await unchanged(before);
  });

  it('an envelope by URL announced within the envelope area but served endlessly → only the announced bytes are read, connection closed', async () => {
    const before = deviceFacts(dev);
    const openBefore = evil.active;
    const announced = 2000;
    const endless = { streamed: true as const, length: 2 ** 32, fill: 0x81 };
    // The digest of the announced prefix matches, so the bytes reach the pre-check: a nesting bomb.
    const digest = sha256hex(new Uint8Array(announced).fill(0x81));
    expect(await offer({ envelope: null, envelopeObject: endless, envelopeSize: announced, envelopeSha256: digest, payloads: [full(v2)] })).toEqual({ status: 'failed', code: 'CBOR_TOO_DEEP' });
    expect(agent.stats().bytesReceived).toBeLessThan(announced + 128 * 1024);
    expect(evil.sent.has('/evil/payload/0')).toBe(false);
    const t0 = Date.now();
    while (evil.active > openBefore && Date.now() - t0 < 1500) await new Promise((r) => setTimeout(r, 20));
    expect(evil.active).toBe(openBefore);
    expect(evil.sentTotal()).toBeLessThan(16 * 1024 * 1024);
    await unchanged(before);
  });

  it('control: the genuine envelope by URL installs', async () => {
    expect(await offer({ envelope: null, envelopeObject: env2, payloads: [full(v2)] })).toMatchObject({ status: 'confirmed' });
    expect(deviceFacts(dev).digest).toBe(sha256hex(v2));
  });
});

// keep helpers referenced for type-checking of optional imports
void toHex;
void fromHex;
