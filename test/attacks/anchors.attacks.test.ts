/**
 * THREAT.KEY.EXPOSURE / REQ.SEC.KEY.ROTATION — trust-anchor statements (docs/trust-anchors.md) against
 * the real device: rotations signed by the wrong side, skipped or replayed versions, revocation, the
 * sequence floor, and vendor → owner handover. Plus the freeze / indefinite-delay limits of the system.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { generateKey, signAnchorStatement, type AnchorSetInput, type SigningKey } from '../../manifest/index.js';
import { anchorKey, makeImage, type Device } from '../../device-bootloader-sim/index.js';
import { EvilServer, agentFor, deviceFacts, makeFieldDevice, makeLab, refuses, sha256hex, type Lab } from './lab.js';

let lab: Lab;
let dev: Device;
let k1: SigningKey; // the vendor's key in the factory anchors (v1)
let k2: SigningKey; // its successor

const set = (version: number, keys: SigningKey[], extra: Partial<AnchorSetInput> = {}): AnchorSetInput => ({
  version,
  threshold: 1,
  anchorThreshold: 1,
  keys: keys.map((k) => anchorKey(k)),
  revoked: [],
  ...extra,
});

beforeEach(async () => {
  lab = makeLab(8 * 1024);
  k1 = lab.vendor.key;
  k2 = generateKey(-8);
  dev = await makeFieldDevice(lab);
  // Bridge release signed by the old and the new key (the new kid is ignored until the rotation).
  await dev.stage(lab.release({ seq: 2, image: lab.images[1]!, keys: [k1, k2] }), lab.images[1]!);
  await dev.reboot();
  dev.confirm();
});

describe('THREAT.KEY.EXPOSURE — rotation and revocation only through a correctly signed chain', () => {
  it('a rotation statement signed only by the new key → ANCHOR_CHAIN_BROKEN, anchors unchanged', async () => {
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(2, [k2]), [k2])]), 'ANCHOR_CHAIN_BROKEN');
    await dev.reboot();
    expect(dev.bootInfo().anchorsVersion).toBe(1);
  });

  it('a rotation statement signed only by the old key (the new key never proved it is held) → ANCHOR_CHAIN_BROKEN', async () => {
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(2, [k2]), [k1])]), 'ANCHOR_CHAIN_BROKEN');
    expect(dev.currentAnchors().version).toBe(1);
  });

  it('an attacker key rotated in with a forged old-key signature block → SIGNATURE_INVALID', async () => {
    const attacker = generateKey(-8);
    const stmt = signAnchorStatement(set(2, [attacker]), [attacker]);
    // Append a "signature" that names k1's kid but is made by the attacker: the kid names an anchor key and fails.
    const named = signAnchorStatement(set(2, [attacker]), [attacker, k1]);
    expect(named.length).toBeGreaterThan(stmt.length);
    const forged = named.slice();
    forged[forged.length - 5]! ^= 0x01; // the last block is k1's signature: break it
    await refuses(() => dev.updateAnchors([forged]), 'SIGNATURE_INVALID');
    expect(dev.currentAnchors().version).toBe(1);
  });

  it('skipping a version (v3 straight after v1) → ANCHOR_CHAIN_BROKEN', async () => {
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(3, [k1, k2]), [k1, k2])]), 'ANCHOR_CHAIN_BROKEN');
  });

  it('replaying an old statement (v2 again at v2) → ANCHOR_CHAIN_BROKEN', async () => {
    const v2 = signAnchorStatement(set(2, [k2], { revoked: [k1.publicKey().kid] }), [k1, k2]);
    dev.updateAnchors([v2]);
    await refuses(() => dev.updateAnchors([v2]), 'ANCHOR_CHAIN_BROKEN');
    await dev.reboot();
    expect(dev.bootInfo().anchorsVersion).toBe(2);
  });

  it("a revoked key's newer release is refused (KEY_REVOKED) even through the agent; the new key's release installs", async () => {
    dev.updateAnchors([signAnchorStatement(set(2, [k2], { revoked: [k1.publicKey().kid] }), [k1, k2])]);
    const evil = await new EvilServer().start();
    try {
      const agent = agentFor(dev, evil.url);
      const img = makeImage(8 * 1024, 9, lab.images[1]);
      evil.update = { assignmentId: 'as-revoked', envelope: lab.release({ seq: 50, image: img, keys: [k1] }), payloads: [{ kind: 'full', bytes: img, sha256: sha256hex(img) }] };
      await agent.cycle();
      expect(evil.reports.at(-1)).toMatchObject({ status: 'failed', code: 'KEY_REVOKED' });
      expect(deviceFacts(dev).committed).toBe(2n);
      evil.update = { assignmentId: 'as-good', envelope: lab.release({ seq: 3, image: img, keys: [k2] }), payloads: [{ kind: 'full', bytes: img, sha256: sha256hex(img) }] };
      await agent.cycle();
      expect(evil.reports.at(-1)).toMatchObject({ status: 'confirmed' });
      expect(deviceFacts(dev).committed).toBe(3n);
    } finally {
      await evil.close();
    }
  });

  it('a statement that un-revokes a key → ANCHOR_CHAIN_BROKEN (revocation is permanent)', async () => {
    dev.updateAnchors([signAnchorStatement(set(2, [k2], { revoked: [k1.publicKey().kid] }), [k1, k2])]);
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(3, [k2, k1]), [k2, k1])]), 'ANCHOR_CHAIN_BROKEN');
  });

  it('a sequence floor (minSequence) is kept: a later statement cannot lower it → ANCHOR_CHAIN_BROKEN', async () => {
    // A floor above the running image would strand it (UPDATE_STATE_INVALID): on a device the floor can
    // never exceed what the committed counter already enforces (see docs/threat-model.md, observations).
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(2, [k1, k2], { minSequence: 10 }), [k1, k2])]), 'UPDATE_STATE_INVALID');
    dev.updateAnchors([signAnchorStatement(set(2, [k1, k2], { minSequence: 2 }), [k1, k2])]);
    await refuses(() => dev.beginStage(lab.release({ seq: 1, image: lab.images[2]!, keys: [k1] })), 'ROLLBACK_REJECTED');
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(3, [k1, k2], { minSequence: 1 }), [k1, k2])]), 'ANCHOR_CHAIN_BROKEN');
  });

  it('an anchor change that would strand the running image → UPDATE_STATE_INVALID (no self-bricking rotation)', async () => {
    const fresh = await makeFieldDevice(lab, { id: 'dev-2' }); // runs release 1, signed by k1 only
    await refuses(() => fresh.updateAnchors([signAnchorStatement(set(2, [k2], { revoked: [k1.publicKey().kid] }), [k1, k2])]), 'UPDATE_STATE_INVALID');
    expect(fresh.currentAnchors().version).toBe(1);
  });
});

describe('vendor → owner handover — afterwards the vendor has no power over the device', () => {
  let owner: SigningKey;
  beforeEach(async () => {
    owner = generateKey(-8);
    // The owner first installs a bridge release it co-signs, then takes over the anchors.
    await dev.stage(lab.release({ seq: 3, image: lab.images[2]!, keys: [k1, owner] }), lab.images[2]!);
    await dev.reboot();
    dev.confirm();
    dev.updateAnchors([signAnchorStatement(set(2, [owner], { owner: { name: 'owner', previous: 'vendor' } }), [k1, owner])]);
  });

  it('the vendor signs a new anchor statement taking the device back → ANCHOR_CHAIN_BROKEN', async () => {
    await refuses(() => dev.updateAnchors([signAnchorStatement(set(3, [k1]), [k1])]), 'ANCHOR_CHAIN_BROKEN');
    expect(dev.currentAnchors().owner?.name).toBe('owner');
  });

  it('the vendor signs a newer firmware release → KEY_UNTRUSTED', async () => {
    await refuses(() => dev.beginStage(lab.release({ seq: 99, image: lab.images[1]!, keys: [k1] })), 'KEY_UNTRUSTED');
  });

  it("the owner's own release installs", async () => {
    await dev.stage(lab.release({ seq: 4, image: lab.images[1]!, keys: [owner] }), lab.images[1]!);
    await dev.reboot();
    dev.confirm();
    expect(deviceFacts(dev).committed).toBe(4n);
  });
});

describe('freeze / indefinite delay — what a withholding server can and cannot do (docs/threat-model.md)', () => {
  it('a server that answers "none" forever leaves the device on its last signed image; nothing on the device expires', async () => {
    const evil = await new EvilServer().start();
    try {
      const agent = agentFor(dev, evil.url);
      const before = deviceFacts(dev);
      for (let i = 0; i < 5; i++) expect(await agent.cycle()).toBeGreaterThan(0);
      expect(evil.polls).toBe(5);
      await dev.reboot();
      expect(deviceFacts(dev)).toEqual(before);
      // There is no device-side freshness signal to test: the agent keeps no trusted time and no
      // "last successful poll" record (AgentStats has none), so withholding is detectable only by
      // the operator (device lastSeen / compliance on an honest server) — see the threat model.
      expect(Object.keys(agent.stats())).not.toContain('lastSuccessfulPoll');
    } finally {
      await evil.close();
    }
  });

  it('a withheld newer release still installs when it finally arrives years later: signatures never expire, the sequence only needs to be higher', async () => {
    const evil = await new EvilServer().start();
    try {
      const agent = agentFor(dev, evil.url);
      const img = makeImage(8 * 1024, 77, lab.images[1]);
      evil.update = { assignmentId: 'late', envelope: lab.release({ seq: 40, image: img, keys: [k1] }), payloads: [{ kind: 'full', bytes: img, sha256: sha256hex(img) }] };
      await agent.cycle();
      expect(evil.reports.at(-1)).toMatchObject({ status: 'confirmed' });
      expect(deviceFacts(dev).committed).toBe(40n);
    } finally {
      await evil.close();
    }
  });
});
