/**
 * 25-year longevity scenario (docs/longevity.md): one device per flash profile lives through ~100
 * quarterly updates (full and delta, reverted bad builds, power cuts), key rotation, a compromise and
 * revocation, a post-quantum migration to dual Ed25519 + HSS-LMS signatures, the vendor → owner
 * handover (then the owner's own suit-server + the real agent), 20 more rotations, and sequence
 * numbers past 2038 and past 2^53. No clock anywhere: the timeline is the order of events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { Device } from '../../device-bootloader-sim/index.js';
import { provisionDevice } from '../../device-bootloader-sim/agent/index.js';
import { bootUp, installViaDevice, live, refusal, type LifeFigures, type Step } from './life.js';
import { startOwnerServer, type OwnerServer } from './owner-server.js';
import { buildWorld, LMS_PARAMS, type Release, type World } from './world.js';

let world: World;
const figures: LifeFigures[] = [];
let owner: OwnerServer | undefined;

beforeAll(() => {
  world = buildWorld();
}, 30_000);
afterAll(async () => {
  await owner?.close();
  if (figures.length > 0) {
    const show = (f: LifeFigures) => ({ ...f, committedSeq: f.committedSeq.toString(), anchorRecordBytes: `${Math.min(...f.anchorRecordBytes)}..${Math.max(...f.anchorRecordBytes)}` });
    console.log(JSON.stringify({ keyGenMs: world.keyGenMs, lms: LMS_PARAMS, figures: figures.map(show) }, null, 1));
  }
});

/** Attacks run right after the anchor events that make them interesting. */
function attacks(refused: Record<string, string>): (dev: Device, version: number) => Promise<void> {
  return async (dev, version) => {
    const r = (name: string, code: string) => (refused[name] = code);
    const next = world.releases.find((x) => x.seq > dev.bootInfo().committedSequenceNumber)!;
    const forged = (signers: string[]) => world.sign({ seq: next.seq, epoch: next.epoch, image: next.image, signers });
    const cur = dev.currentAnchors();
    const base = { threshold: cur.threshold, anchorThreshold: 1, revoked: cur.revoked };
    if (version === 3) {
      // Year 5: E3 is revoked. A release it signs is refused; holding it does not make an anchor statement.
      r('release signed by the revoked key E3', await refusal(() => dev.beginStage(forged(['E3']))));
      const evil = world.statement({ ...base, version: 4, keys: [{ ...world.keys['E3']!.publicKey(), roles: ['firmware', 'anchors'] }, { ...world.keys['ATT']!.publicKey(), roles: ['firmware', 'anchors'] }], revoked: [] }, ['E3', 'ATT']);
      r('anchor statement by revoked E3 + attacker key', await refusal(() => dev.updateAnchors([evil])));
      const evil2 = world.statement({ ...base, version: 4, keys: [{ ...world.keys['ATT']!.publicKey(), roles: ['firmware', 'anchors'] }] }, ['E3', 'ATT']);
      r('anchor statement by E3 keeping the revocation list', await refusal(() => dev.updateAnchors([evil2])));
    }
    if (version === 4) {
      r('Ed25519-only release after the PQ migration', await refusal(() => dev.beginStage(forged(['E2']))));
      r('HSS-LMS-only release while dual signatures are required', await refusal(() => dev.beginStage(forged(['L1']))));
    }
    if (version === 5) {
      r('vendor-signed release after the handover', await refusal(() => dev.beginStage(forged(['E2', 'L1']))));
      const back = world.statement({ version: 6, threshold: 1, anchorThreshold: 2, keys: [{ ...world.keys['E2']!.publicKey(), roles: ['firmware', 'anchors'] }, { ...world.keys['E4']!.publicKey(), roles: ['firmware', 'anchors'] }], revoked: cur.revoked }, ['E2', 'E4', 'LA1']);
      r('vendor anchor statement taking the device back', await refusal(() => dev.updateAnchors([back])));
    }
    if (version === 6) r('owner Ed25519-only release after Ed25519 firmware keys are retired', await refusal(() => dev.beginStage(forged(['OE']))));
    if (version === 26) r('release by the previous rotated-out HSS-LMS key OL19', await refusal(() => dev.beginStage(forged(['OL19']))));
    if (dev.state.phase === 'pending') dev.cancelPending();
  };
}

const EXPECTED_REFUSALS: Record<string, string> = {
  'release signed by the revoked key E3': 'KEY_REVOKED',
  'anchor statement by revoked E3 + attacker key': 'ANCHOR_CHAIN_BROKEN', // un-revokes E3 (rule 4) and E3 no longer signs for v3
  'anchor statement by E3 keeping the revocation list': 'ANCHOR_CHAIN_BROKEN',
  'Ed25519-only release after the PQ migration': 'SIGNATURE_THRESHOLD_NOT_MET',
  'HSS-LMS-only release while dual signatures are required': 'SIGNATURE_THRESHOLD_NOT_MET',
  'vendor-signed release after the handover': 'KEY_UNTRUSTED',
  'vendor anchor statement taking the device back': 'ANCHOR_CHAIN_BROKEN',
  'owner Ed25519-only release after Ed25519 firmware keys are retired': 'KEY_UNTRUSTED',
  'release by the previous rotated-out HSS-LMS key OL19': 'KEY_UNTRUSTED',
};

function checkLife(f: LifeFigures, quarters: number): void {
  expect(f.updates).toBe(quarters);
  expect(f.anchorUpdates).toBe(world.events.filter((e) => e.quarter <= quarters).length);
  expect(f.powerCuts).toBeGreaterThanOrEqual(4);
  // wear: far below the part's endurance after 25 years (swap-offset: ~2 erases per used unit per update)
  expect(f.maxErasesSlot).toBeLessThan(f.endurance / 10);
  expect(f.maxErasesJournal).toBeLessThan(f.endurance / 100);
  expect(f.maxErasesStatus).toBeLessThan(f.endurance / 10);
  expect(f.ramPeak).toBeLessThanOrEqual(f.ramLimit);
  // eFuses: one per security epoch bump (4 in 25 years), never more than the part has
  expect(f.efuseUsed).toBe(4);
  expect(f.efuseUsed).toBeLessThanOrEqual(f.efuseBits);
  // envelopes with HSS-LMS signatures fit the envelope area; the anchor record is bounded by one set
  expect(f.maxEnvelope + 32).toBeLessThanOrEqual(f.envelopeArea);
  expect(Math.max(...f.anchorRecordBytes)).toBeLessThanOrEqual(400);
  const tail = f.anchorRecordBytes.slice(-20);
  expect(Math.max(...tail) - Math.min(...tail)).toBeLessThanOrEqual(2); // 20 rotations later: no growth
  expect(Math.max(...f.anchorRecordBytes)).toBeLessThan(f.journalUnit / 4);
  for (const [what, code] of Object.entries(f.refusals)) expect(`${what}: ${code}`).toBe(`${what}: ${EXPECTED_REFUSALS[what]}`);
  expect(Object.keys(f.refusals).length).toBe(Object.keys(EXPECTED_REFUSALS).length);
}

async function factoryDevice(profile: string): Promise<Device> {
  const dev = new Device({ profile, identity: world.identity, anchors: world.root });
  await dev.factoryInstall(world.factory.envelope, world.factory.image);
  await dev.boot();
  return dev;
}

describe('25 years in the field', () => {
  for (const profile of ['stm32f4', 'smallpage', 'smallpage-ow']) {
    it(`${profile}: 100 quarterly updates, 25 anchor statements, nothing bricked`, async () => {
      const dev = await factoryDevice(profile);
      const refusals: Record<string, string> = {};
      const f = await live(world, dev, { afterAnchors: attacks(refusals) });
      f.refusals = refusals;
      figures.push(f);
      checkLife(f, 100);
      if (profile === 'smallpage-ow') expect(f.badCommitted).toBe(4); // overwrite-only: no revert (documented trade-off)
      else expect(f.reverted).toBe(4);
      expect(f.committedSeq > 2n ** 31n).toBe(true); // past 2038 as UTC seconds
    }, 30_000);
  }

  it("nrf52840: the same life; after the handover two updates go through the owner's own suit-server and the real agent", async () => {
    const { device: dev, publicKeyPem } = await provisionDevice({
      deviceId: 'meter-0001', profile: 'nrf52840', identity: world.identity, anchors: world.root,
      factoryEnvelope: world.factory.envelope, factoryImage: world.factory.image,
    });
    const viaServer = new Map<number, Step>();
    const serverSteps: { quarter: number; cycles: number }[] = [];
    const step: Step = async (d, r: Release) => {
      if (!owner) {
        // Year 10: the owner's fresh server knows only the owner's keys (dual: Ed25519 + HSS-LMS, 2 of 2).
        owner = await startOwnerServer(world.identity.vendorId, world.identity.classId, [world.keys['OE']!, world.keys['OL0']!], 2);
        await owner.enroll('meter-0001', d, publicKeyPem);
        // The server refuses a release the vendor signed (its keys are not the owner's anchors).
        const vendorSigned = world.sign({ seq: r.seq, epoch: r.epoch, image: r.image, signers: ['E2', 'L1'] });
        const up = await owner.api('POST', '/api/v1/releases', vendorSigned, 'application/suit-envelope+cose');
        expect(up.status).toBeGreaterThanOrEqual(400);
      }
      const { cycles } = await owner.deliver('meter-0001', d, r);
      serverSteps.push({ quarter: r.quarter, cycles });
      expect(d.bootInfo().committedSequenceNumber).toBe(r.seq);
      expect(d.bootInfo().trial).toBe(false);
    };
    viaServer.set(41, step);
    viaServer.set(42, step);
    const refusals: Record<string, string> = {};
    const f = await live(world, dev, { afterAnchors: attacks(refusals), viaServer });
    f.refusals = refusals;
    figures.push(f);
    expect(serverSteps.map((s) => s.quarter)).toEqual([41, 42]);
    checkLife(f, 100);
    expect(f.reverted).toBe(4);

    // The server saw the device confirm both updates (signed reports).
    const dv = await owner!.api('GET', '/api/v1/devices/meter-0001');
    expect(dv.status).toBe(200);
  }, 40_000);

  it('64-bit sequence numbers: the device and the server compare them exactly past 2^53 and up to 2^64-1', async () => {
    const dev = await factoryDevice('smallpage');
    // jump the whole life: a release signed by the v1 keys with ever larger sequence numbers
    const img = world.releases[0]!.image;
    const rel = (s: bigint, quarter: number): Release => ({ quarter, seq: s, epoch: 1, image: img, envelope: world.sign({ seq: s, epoch: 1, image: img, signers: ['E1'] }), signers: ['E1'], bad: false });
    const big = 2n ** 53n + 1n;
    await installViaDevice(dev, rel(big, 1001), { delta: false });
    expect(dev.bootInfo().committedSequenceNumber).toBe(big);
    // 2^53 and 2^53+1 are the same JavaScript number: a number-based compare would accept this rollback
    expect(Number(2n ** 53n)).toBe(Number(big));
    expect(await refusal(() => dev.beginStage(rel(2n ** 53n, 1002).envelope))).toBe('ROLLBACK_REJECTED');
    const top = 2n ** 64n - 1n;
    await installViaDevice(dev, rel(2n ** 63n + 5n, 1003), { delta: false });
    await installViaDevice(dev, rel(top, 1004), { delta: false });
    await bootUp(dev); // survives the u64 state record round trip
    expect(dev.bootInfo().committedSequenceNumber).toBe(top);
    expect(await refusal(() => dev.beginStage(rel(top - 1n, 1005).envelope))).toBe('ROLLBACK_REJECTED');
    // past u64: the manifest codec refuses to even encode it (the counter can never wrap)
    let wrapped: unknown;
    try {
      rel(2n ** 64n, 1006);
    } catch (e) {
      wrapped = e;
    }
    expect(isUpdateError(wrapped) || wrapped instanceof Error).toBe(true);

    // The server keeps sequence numbers as bigint (uint64, stored as 20-digit sortable text): it serves
    // the whole range too. JSON carries them as numbers up to 2^53-1 and as decimal strings beyond.
    const srv = owner ?? (owner = await startOwnerServer(world.identity.vendorId, world.identity.classId, [world.keys['OE']!, world.keys['OL0']!], 2));
    await srv.api('PUT', `/api/v1/payloads/${(await import('node:crypto')).createHash('sha256').update(img).digest('hex')}`, img, 'application/octet-stream');
    for (const s of [2n ** 53n - 1n, big, top]) {
      const env = world.sign({ seq: s, epoch: 1, image: img, signers: ['OE', 'OL0'] });
      const res = await srv.api('POST', '/api/v1/releases', env, 'application/suit-envelope+cose');
      expect(res.status, String(s)).toBe(201);
    }
    const list = await srv.api('GET', '/api/v1/releases');
    const seqs = (list.json as { items: { sequence: number | string }[] }).items.map((r) => BigInt(r.sequence));
    expect(seqs.slice(0, 3)).toEqual([top, big, 2n ** 53n - 1n]);
  }, 20_000);
});
