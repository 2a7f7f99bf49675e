/**
 * `suit-sign anchors`: initial set, rotation with revocation, vendor → owner handover, chain
 * verification, and `verify --anchors` on a manifest.
 */
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { cli, tempDir } from './test-helpers.js';

describe('suit-sign anchors', () => {
  it('initial set → rotation with revocation → vendor→owner handover; verify-chain; verify --anchors', async () => {
    const d = await tempDir();
    const keygen = async (name: string, alg = 'ed25519'): Promise<string> => {
      const r = await cli(d, 'keygen', '--alg', alg, '--out', name, '--json');
      expect(r.code, r.out).toBe(0);
      return r.json<{ kid: string }>().kid;
    };
    await keygen('root1');
    await keygen('root2', 'p256');
    const fw1 = await keygen('fw1');
    await keygen('fw2');
    await keygen('owner-root');
    const ownerFw = await keygen('owner-fw', 'p256');

    // v1: two vendor roots (2 of 2 for statements), one firmware key.
    let r = await cli(d, 'anchors', 'build', '--anchor-key', 'root1.pub.pem', '--anchor-key', 'root2.pub.pem', '--key', 'fw1.pub.pem', '--anchor-threshold', '2', '--owner', 'ACME', '-o', 'v1.cbor', '--json');
    expect(r.code, r.out).toBe(0);
    expect(r.json()).toMatchObject({ set: { version: 1, anchorThreshold: 2, threshold: 1 } });
    expect((await cli(d, 'anchors', 'sign', 'v1.cbor', '--key', 'root1.pem', '-o', 'v1.anchors')).code).toBe(0);
    // one of two is not enough for an initial set
    expect((await cli(d, 'anchors', 'verify', 'v1.anchors', '--json')).json()).toMatchObject({ ok: false, code: 'ANCHOR_CHAIN_BROKEN' });
    // the second holder signs on "another machine": signatures are merged
    r = await cli(d, 'anchors', 'sign', 'v1.anchors', '--key', 'root2.pem', '-o', 'v1.anchors', '--json');
    expect(r.json()).toMatchObject({ ok: true, signatures: 2 });
    expect((await cli(d, 'anchors', 'verify', 'v1.anchors', '--json')).json()).toMatchObject({ ok: true, set: { version: 1 } });

    // v2: fw1 compromised → revoked, fw2 added; signed by both roots (old set = new set's anchors).
    r = await cli(d, 'anchors', 'build', '--from', 'v1.anchors', '--revoke', 'fw1.pub.pem', '--key', 'fw2.pub.pem', '-o', 'v2.cbor', '--json');
    expect(r.json()).toMatchObject({ set: { version: 2, revoked: [fw1] } });
    expect((await cli(d, 'anchors', 'sign', 'v2.cbor', '--key', 'root1.pem', '--key', 'root2.pem', '-o', 'v2.anchors')).code).toBe(0);
    expect((await cli(d, 'anchors', 'verify', 'v2.anchors', '--current', 'v1.anchors')).code).toBe(0);

    // v3: handover to the owner: new keys only; signed by the vendor's 2 roots AND the owner's root.
    r = await cli(d, 'anchors', 'build', '--from', 'v2.anchors', '--drop-keys', '--anchor-key', 'owner-root.pub.pem', '--key', 'owner-fw.pub.pem', '--anchor-threshold', '1', '--owner', 'Hospital IT', '-o', 'v3.cbor', '--json');
    expect(r.json()).toMatchObject({ set: { version: 3, owner: { name: 'Hospital IT', previous: 'ACME' }, revoked: [fw1] } });
    expect((await cli(d, 'anchors', 'sign', 'v3.cbor', '--key', 'root1.pem', '--key', 'root2.pem', '-o', 'v3-vendor-only.anchors')).code).toBe(0);
    // without the owner's own signature the new set is not proven
    expect((await cli(d, 'anchors', 'verify', 'v3-vendor-only.anchors', '--current', 'v2.anchors', '--json')).json()).toMatchObject({ ok: false, code: 'ANCHOR_CHAIN_BROKEN' });
    expect((await cli(d, 'anchors', 'sign', 'v3-vendor-only.anchors', '--key', 'owner-root.pem', '-o', 'v3.anchors')).code).toBe(0);
    // the owner alone cannot take over
    expect((await cli(d, 'anchors', 'sign', 'v3.cbor', '--key', 'owner-root.pem', '-o', 'v3-owner-only.anchors')).code).toBe(0);
    expect((await cli(d, 'anchors', 'verify', 'v3-owner-only.anchors', '--current', 'v2.anchors', '--json')).json()).toMatchObject({ ok: false, code: 'ANCHOR_CHAIN_BROKEN' });

    const chain = await cli(d, 'anchors', 'verify-chain', 'v1.anchors', 'v2.anchors', 'v3.anchors', '--json');
    expect(chain.json()).toMatchObject({ ok: true, versions: [1, 2, 3], set: { version: 3, owner: { name: 'Hospital IT' } } });
    // skipping a version breaks the chain
    expect((await cli(d, 'anchors', 'verify-chain', 'v1.anchors', 'v3.anchors', '--json')).json()).toMatchObject({ ok: false, code: 'ANCHOR_CHAIN_BROKEN' });
    expect((await cli(d, 'anchors', 'inspect', 'v3.cbor', '--json')).json()).toMatchObject({ signed: false, set: { version: 3 } });

    // Manifests: owner-fw signs under v3; a manifest by revoked fw1 is refused under v2.
    await writeFile(path.join(d, 'fw.bin'), 'firmware');
    await writeFile(path.join(d, 'rel.json'), JSON.stringify({ vendor: { domain: 'acme.example' }, class: { info: 'c' }, sequenceNumber: 9, components: [{ id: ['0x00'], image: 'fw.bin' }] }));
    expect((await cli(d, 'create', '--release', 'rel.json', '-o', 'u.suit')).code).toBe(0);
    expect((await cli(d, 'sign', 'u.suit', '--key', 'owner-fw.pem', '-o', 'owner.suit')).code).toBe(0);
    expect((await cli(d, 'sign', 'u.suit', '--key', 'fw1.pem', '-o', 'old.suit')).code).toBe(0);
    const ok = await cli(d, 'verify', 'owner.suit', '--anchors', 'v3.anchors', '--json');
    expect(ok.json()).toMatchObject({ ok: true, signers: [ownerFw] });
    const revoked = await cli(d, 'verify', 'old.suit', '--anchors', 'v2.anchors', '--json');
    expect(revoked.json()).toMatchObject({ ok: false });
    expect(['KEY_REVOKED', 'KEY_UNTRUSTED']).toContain(revoked.json<{ code: string }>().code);
    expect(revoked.code).toBe(77);
  });

  it('refuses statements that would lock devices out, with a usage error naming the problem', async () => {
    const d = await tempDir();
    expect((await cli(d, 'keygen', '--alg', 'ed25519', '--out', 'r')).code).toBe(0);
    const r = await cli(d, 'anchors', 'build', '--anchor-key', 'r.pub.pem', '--anchor-threshold', '2', '-o', 'x.cbor', '--json');
    expect(r.json()).toMatchObject({ ok: false, code: 'USAGE' });
    expect(r.json<{ message: string }>().message).toMatch(/threshold/);
  });
});
