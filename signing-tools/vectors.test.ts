/**
 * `inspect --json` and `verify` on every SUIT vector of test/fixtures/suit/, with the
 * P-256 key of draft-ietf-suit-manifest-37 Appendix B (keys.md §1), the HMAC key of the
 * firmware-encryption draft (keys.md §2) and its second P-256 key (the dependent manifest).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { cli, tempDir, DRAFT_P256_PUBLIC } from './test-helpers.js';
import { fixturePath, listFixtures } from '../test/support/fixtures.js';

/** Logical fixture names (`suit/…`) of the hex envelopes and hex data files. */
const listHex = (): string[] => listFixtures('suit', { recursive: true }).filter((n) => /\.hex(\.signed)?$/.test(n));

/** Files that are not envelopes: encrypted payloads (raw ciphertext) and COSE_Encrypt encryption info. */
const NOT_ENVELOPES = /encrypted-payload-|suit-encryption-info-/;
/** MAC'd with the 32-byte key 'aaaa…' (COSE_Mac0, HMAC 256/256). */
const MACED = /aes-kw(-content|-slot)?\.hex\.signed$|expA(F|FS|W)\.hex$/;
/** Signed by the second P-256 key of the firmware-encryption draft. */
const OTHER_KEY = /es-ecdh-dependency/;
/** The manifest draft's `.unsigned.hex` examples have no authentication block. */
const UNSIGNED = /\.unsigned\.hex$/;

const SECOND_KEY_SEC1 = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIQa67e56m8CYL5zVaJFiLl30j0qxb8ray2DeUMqH+qYoAoGCCqGSM49
AwEHoUQDQgAEDpCKqPBm2x8ITgw2UsY5Ur2Z8qW9si+eATZ6rQOrpot32hvYrE8M
tJC6IQZIv3mrFk1JrTVR1x0xSydJ7kLSmg==
-----END EC PRIVATE KEY-----
`;

describe('suit-sign on every SUIT vector', () => {
  const files = listHex();
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path.join(dir, 'draft.pub.pem'), DRAFT_P256_PUBLIC);
    await writeFile(path.join(dir, 'mac.key'), 'a'.repeat(32));
    await writeFile(path.join(dir, 'second.pem'), SECOND_KEY_SEC1);
  });

  it('finds the vectors', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  for (const n of files) {
    const f = fixturePath(n);
    const name = n.slice('suit/'.length);
    it(name, async () => {
      const i = await cli(dir, 'inspect', f, '--json');
      if (NOT_ENVELOPES.test(name)) {
        // Not an envelope: a data error with its code, never a crash.
        expect(i.code, i.out).toBe(65);
        expect(i.json()).toMatchObject({ ok: false });
        return;
      }
      expect(i.code, i.out).toBe(0);
      const s = i.json<{ digest: { hex: string }; sequenceNumber: unknown; signatures: unknown[] }>();
      expect(s.digest.hex).toMatch(/^[0-9a-f]{64}$/);
      expect(s.sequenceNumber).toBeDefined();
      expect((await cli(dir, 'inspect', f)).code).toBe(0);
      expect((await cli(dir, 'inspect', f, '--diag')).code).toBe(0);

      const args = MACED.test(name) ? ['--mac-key', 'mac.key'] : OTHER_KEY.test(name) ? ['--key', 'second.pem'] : ['--key', 'draft.pub.pem'];
      const v = await cli(dir, 'verify', f, ...args, '--json');
      if (UNSIGNED.test(name)) {
        expect(v.json()).toMatchObject({ ok: false, code: 'AUTH_MISSING' });
        expect(v.code).toBe(77);
      } else {
        expect(v.json(), v.out).toMatchObject({ ok: true });
        expect(v.code).toBe(0);
        // and the wrong key is refused with a security exit status
        const w = await cli(dir, 'verify', f, '--key', OTHER_KEY.test(name) ? 'draft.pub.pem' : 'second.pem', '--json');
        expect(w.json()).toMatchObject({ ok: false });
        expect([65, 77]).toContain(w.code);
      }
    });
  }

  it('sign adds a block to a third-party envelope (with severed members) and keeps the original one', async () => {
    expect((await cli(dir, 'keygen', '--alg', 'ed25519', '--out', 'extra')).code).toBe(0);
    const s = await cli(dir, 'sign', fixturePath('suit/example2.hex'), '--key', 'extra.pem', '-o', 'ex2.suit', '--json');
    expect(s.json(), s.out).toMatchObject({ ok: true, blocks: 2 });
    const v = await cli(dir, 'verify', 'ex2.suit', '--key', 'draft.pub.pem', '--key', 'extra.pub.pem', '--threshold', '2', '--json');
    expect(v.json(), v.out).toMatchObject({ ok: true });
    const insp = (await cli(dir, 'inspect', 'ex2.suit', '--json')).json<{ severed: unknown[]; digest: { hex: string } }>();
    const orig = (await cli(dir, 'inspect', fixturePath('suit/example2.hex'), '--json')).json<{ severed: unknown[]; digest: { hex: string } }>();
    expect(insp.digest.hex).toBe(orig.digest.hex);
    expect(insp.severed).toEqual(orig.severed);
  });
});
