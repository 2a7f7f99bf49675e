/**
 * Air-gapped two-step signing: `digest` writes the request, the signature is made by node:crypto
 * from the request file alone (as an HSM or another machine would), `attach` verifies and attaches.
 * Also: a third-party COSE library (@auth0/cose) verifies the blocks `sign` produced.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto';
import * as path from 'node:path';
import { Sign1 } from '@auth0/cose';
import { decodeEnvelope } from '../manifest/index.js';
import { cli, tempDir } from './test-helpers.js';
import { REQUEST_BEGIN, REQUEST_END } from './two-step.js';

/** Only what a foreign signer would do: take the base64 block out of the request. */
function bytesFromRequest(text: string): Buffer {
  const body = text.slice(text.indexOf(REQUEST_BEGIN) + REQUEST_BEGIN.length, text.indexOf(REQUEST_END));
  return Buffer.from(body.replace(/\s+/g, ''), 'base64');
}

describe('two-step (air-gapped) signing', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path.join(dir, 'fw.bin'), Buffer.alloc(4096, 7));
    await writeFile(
      path.join(dir, 'rel.json'),
      JSON.stringify({ vendor: { domain: 'acme.example' }, class: { info: 'hsm-test' }, sequenceNumber: 3, components: [{ id: ['0x00'], image: 'fw.bin', uri: 'https://x/fw.bin' }] }),
    );
    expect((await cli(dir, 'create', '--release', 'rel.json', '-o', 'u.suit')).code).toBe(0);
    expect((await cli(dir, 'keygen', '--alg', 'ed25519', '--out', 'hsm-ed')).code).toBe(0);
    expect((await cli(dir, 'keygen', '--alg', 'p256', '--out', 'hsm-p256')).code).toBe(0);
  });

  it('Ed25519 and P-256 (DER) signatures made by node:crypto from the request are attached after verification', async () => {
    // Ed25519
    const r1 = await cli(dir, 'digest', 'u.suit', '--pub', 'hsm-ed.pub.pem', '-o', 'ed.req', '--raw', 'ed.tbs', '--json');
    expect(r1.code, r1.out).toBe(0);
    const reqText = await readFile(path.join(dir, 'ed.req'), 'utf8');
    expect(reqText).toContain('sequence number: 3');
    expect(reqText).toMatch(/component 0 \[00\]: image [0-9a-f]{64}/);
    const tbs = bytesFromRequest(reqText);
    expect(tbs.equals(await readFile(path.join(dir, 'ed.tbs')))).toBe(true);
    // The request's bytes are the COSE Sig_structure: ["Signature1", <<{1:-19}>>, h'', <SUIT_Digest>]
    expect(tbs.subarray(0, 12).toString('hex')).toBe('846a5369676e617475726531');
    const edKey = createPrivateKey(await readFile(path.join(dir, 'hsm-ed.pem')));
    await writeFile(path.join(dir, 'ed.sig'), nodeSign(null, tbs, edKey));
    const a1 = await cli(dir, 'attach', 'u.suit', '--signature', 'ed.sig', '--pub', 'hsm-ed.pub.pem', '--request', 'ed.req', '-o', 's1.suit', '--json');
    expect(a1.code, a1.out).toBe(0);

    // P-256 over the same envelope (node:crypto gives DER; attach converts it to r||s)
    expect((await cli(dir, 'digest', 's1.suit', '--alg', 'p256', '-o', 'p.req')).code).toBe(0);
    const ptbs = bytesFromRequest(await readFile(path.join(dir, 'p.req'), 'utf8'));
    const pKey = createPrivateKey(await readFile(path.join(dir, 'hsm-p256.pem')));
    await writeFile(path.join(dir, 'p.sig'), nodeSign('sha256', ptbs, pKey).toString('base64'));
    const a2 = await cli(dir, 'attach', 's1.suit', '--signature', 'p.sig', '--pub', 'hsm-p256.pub.pem', '--request', 'p.req', '-o', 's2.suit', '--json');
    expect(a2.code, a2.out).toBe(0);

    const v = await cli(dir, 'verify', 's2.suit', '--key', 'hsm-ed.pub.pem', '--key', 'hsm-p256.pub.pem', '--threshold', '2', '--json');
    expect(v.json()).toMatchObject({ ok: true });
  });

  it('refuses a wrong signature, a request for another envelope, and never attaches unverified bytes', async () => {
    expect((await cli(dir, 'digest', 'u.suit', '--pub', 'hsm-ed.pub.pem', '-o', 'x.req')).code).toBe(0);
    const tbs = bytesFromRequest(await readFile(path.join(dir, 'x.req'), 'utf8'));
    const wrongKey = createPrivateKey(await readFile(path.join(dir, 'hsm-p256.pem')));
    await writeFile(path.join(dir, 'bad.sig'), nodeSign('sha256', tbs, wrongKey));
    const r = await cli(dir, 'attach', 'u.suit', '--signature', 'bad.sig', '--pub', 'hsm-ed.pub.pem', '--request', 'x.req', '-o', 'bad.suit', '--json');
    expect(r.json()).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
    expect(r.code).toBe(77);
    // request made for another manifest
    await writeFile(path.join(dir, 'fw2.bin'), Buffer.alloc(10, 1));
    await writeFile(path.join(dir, 'rel2.json'), JSON.stringify({ vendor: { domain: 'acme.example' }, class: { info: 'hsm-test' }, sequenceNumber: 4, components: [{ id: ['0x00'], image: 'fw2.bin' }] }));
    expect((await cli(dir, 'create', '--release', 'rel2.json', '-o', 'other.suit')).code).toBe(0);
    const edKey = createPrivateKey(await readFile(path.join(dir, 'hsm-ed.pem')));
    await writeFile(path.join(dir, 'ed.sig2'), nodeSign(null, tbs, edKey));
    const r2 = await cli(dir, 'attach', 'other.suit', '--signature', 'ed.sig2', '--pub', 'hsm-ed.pub.pem', '--request', 'x.req', '-o', 'o.suit', '--json');
    expect(r2.json()).toMatchObject({ ok: false, code: 'MANIFEST_DIGEST_MISMATCH' });
  });
});

describe('@auth0/cose verifies the COSE_Sign1 blocks made by `suit-sign sign`', () => {
  // @auth0/cose 1.0.2 knows EdDSA (-8) and ES256 (-7) only, hence --legacy-alg-ids.
  it('Ed25519 and P-256', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'fw.bin'), Buffer.alloc(100, 3));
    await writeFile(path.join(dir, 'rel.json'), JSON.stringify({ vendor: { domain: 'acme.example' }, class: { info: 'c' }, sequenceNumber: 1, components: [{ id: ['0x00'], image: 'fw.bin' }] }));
    expect((await cli(dir, 'create', '--release', 'rel.json', '-o', 'u.suit')).code).toBe(0);
    for (const alg of ['ed25519', 'p256']) expect((await cli(dir, 'keygen', '--alg', alg, '--out', alg)).code).toBe(0);
    const s = await cli(dir, 'sign', 'u.suit', '--key', 'ed25519.pem', '--key', 'p256.pem', '--legacy-alg-ids', '-o', 's.suit', '--json');
    expect(s.code, s.out).toBe(0);
    const env = decodeEnvelope(new Uint8Array(await readFile(path.join(dir, 's.suit'))));
    expect(env.authBlocks).toHaveLength(2);
    const pubs = [createPublicKey(await readFile(path.join(dir, 'ed25519.pub.pem'))), createPublicKey(await readFile(path.join(dir, 'p256.pub.pem')))];
    for (const [i, block] of env.authBlocks.entries()) {
      await Sign1.decode(Buffer.from(block)).verify(pubs[i]!, { detachedPayload: Buffer.from(env.digestBytes) });
      await expect(Sign1.decode(Buffer.from(block)).verify(pubs[i]!, { detachedPayload: Buffer.from([0]) })).rejects.toThrow();
    }
    // and our own verifier accepts the legacy ids as the same keys
    expect((await cli(dir, 'verify', 's.suit', '--key', 'ed25519.pub.pem', '--key', 'p256.pub.pem', '--threshold', '2')).code).toBe(0);
  });
});
