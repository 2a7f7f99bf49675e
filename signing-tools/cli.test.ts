/**
 * suit-sign end to end, in-process through `main(argv, io)` in temp dirs (issue 4 "Tests that must
 * exist"), plus one real `node bin/suit-sign.mjs` spawn.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ERRORS, decodeEnvelope } from '../manifest/index.js';
import { cli, tempDir } from './test-helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('suit-sign: keygen → create → sign (two keys) → verify threshold 2 → tamper', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path.join(dir, 'app.bin'), randomBytes(300_000));
    await writeFile(
      path.join(dir, 'release.yaml'),
      [
        'vendor: { domain: acme.example, name: ACME }',
        'class: { info: t2-rev-b, name: Thermostat T2 }',
        'sequenceNumber: 42',
        'version: 2.1.0',
        'text: { manifestDescription: "Thermostat app 2.1.0" }',
        'components:',
        '  - id: ["0x00"]',
        '    image: app.bin',
        '    uri: https://cdn.acme.example/app-2.1.0.bin',
        '    invoke: true',
        '',
      ].join('\n'),
    );
  });

  it('runs the whole vendor flow', async () => {
    const a = await cli(dir, 'keygen', '--alg', 'ed25519', '--out', 'keys/a', '--json');
    expect(a.code, a.err + a.out).toBe(0);
    const b = await cli(dir, 'keygen', '--alg', 'p256', '--out', 'keys/b', '--json');
    expect(b.code).toBe(0);
    const kidA = a.json<{ kid: string }>().kid;
    const kidB = b.json<{ kid: string }>().kid;
    expect(kidA).toMatch(/^[0-9a-f]{64}$/);
    expect(((await stat(path.join(dir, 'keys/a.pem'))).mode & 0o777).toString(8)).toBe('600');

    const c = await cli(dir, 'create', '--release', 'release.yaml', '-o', 'app.unsigned.suit', '--json');
    expect(c.code, c.out).toBe(0);
    expect(c.json<{ vendorId: string }>().vendorId).toBe('0637e301-e05d-505b-8267-486f5677de9b');

    // Unsigned: verify says AUTH_MISSING.
    const v0 = await cli(dir, 'verify', 'app.unsigned.suit', '--key', 'keys/a.pub.pem', '--json');
    expect(v0.json()).toMatchObject({ ok: false, code: 'AUTH_MISSING' });
    expect(v0.code).toBe(ERRORS.AUTH_MISSING.exit);

    const s = await cli(dir, 'sign', 'app.unsigned.suit', '--key', 'keys/a.pem', '--key', 'keys/b.pem', '-o', 'app.suit', '--json');
    expect(s.code, s.out).toBe(0);
    expect(s.json<{ blocks: number }>().blocks).toBe(2);

    const v = await cli(dir, 'verify', 'app.suit', '--key', 'keys/a.pub.pem', '--key', 'keys/b.cose', '--threshold', '2', '--json');
    expect(v.code, v.out).toBe(0);
    expect(v.json<{ ok: boolean; signers: string[] }>()).toMatchObject({ ok: true });
    expect(v.json<{ signers: string[] }>().signers.sort()).toEqual([kidA, kidB].sort());

    // Human output says OK and exits 0.
    const vh = await cli(dir, 'verify', 'app.suit', '--key', 'keys/a.pub.pem', '--key', 'keys/b.pub.pem', '--threshold', '2');
    expect(vh.code).toBe(0);
    expect(vh.out).toMatch(/^OK/);

    // Only one of the two keys given: threshold 2 cannot be met by one key → usage error, threshold 1 passes.
    expect((await cli(dir, 'verify', 'app.suit', '--key', 'keys/a.pub.pem', '--threshold', '2', '--json')).json()).toMatchObject({ ok: false, code: 'USAGE' });
    expect((await cli(dir, 'verify', 'app.suit', '--key', 'keys/a.pub.pem', '--json')).code).toBe(0);

    // Signing again with a key that already signed adds nothing; blocks are never removed.
    const again = await cli(dir, 'sign', 'app.suit', '--key', 'keys/a.pem', '-o', 'again.suit', '--json');
    expect(again.json()).toMatchObject({ ok: true, blocks: 2, added: [] });

    const bytes = await readFile(path.join(dir, 'app.suit'));
    // Tamper one byte of the last signature.
    const t1 = Buffer.from(bytes);
    const lastBlock = decodeEnvelope(new Uint8Array(bytes)).authBlocks.at(-1)!;
    const blockAt = t1.indexOf(Buffer.from(lastBlock));
    expect(blockAt).toBeGreaterThan(0);
    t1[blockAt + lastBlock.length - 1]! ^= 0x01; // last byte of the last block = its signature
    await writeFile(path.join(dir, 'tampered-sig.suit'), t1);
    const vt1 = await cli(dir, 'verify', 'tampered-sig.suit', '--key', 'keys/a.pub.pem', '--key', 'keys/b.pub.pem', '--threshold', '2', '--json');
    expect(vt1.json()).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
    expect(vt1.code).toBe(ERRORS.SIGNATURE_INVALID.exit);

    // Tamper one byte of the manifest (the last byte of the envelope lies in the manifest's bstr or the text).
    const t2 = Buffer.from(bytes);
    const seqAt = t2.indexOf(Buffer.from([0x02, 0x18, 42])); // manifest-sequence-number 42
    expect(seqAt).toBeGreaterThan(0);
    t2[seqAt + 2] = 43;
    await writeFile(path.join(dir, 'tampered-manifest.suit'), t2);
    const vt2 = await cli(dir, 'verify', 'tampered-manifest.suit', '--key', 'keys/a.pub.pem', '--key', 'keys/b.pub.pem', '--threshold', '2', '--json');
    expect(vt2.json()).toMatchObject({ ok: false, code: 'MANIFEST_DIGEST_MISMATCH' });
    expect(vt2.code).toBe(77);

    // sign refuses a tampered envelope (digest checked first).
    const st = await cli(dir, 'sign', 'tampered-manifest.suit', '--key', 'keys/a.pem', '-o', 'x.suit', '--json');
    expect(st.json()).toMatchObject({ ok: false, code: 'MANIFEST_DIGEST_MISMATCH' });

    // Human failure message: code, file, what to do; on stderr.
    const vh2 = await cli(dir, 'verify', 'tampered-sig.suit', '--key', 'keys/a.pub.pem', '--key', 'keys/b.pub.pem', '--threshold', '2');
    expect(vh2.err).toMatch(/error SIGNATURE_INVALID: .*tampered-sig\.suit/);
    expect(vh2.err).toMatch(/what to do:/);

    // inspect: human, JSON, diagnostic.
    const ij = await cli(dir, 'inspect', 'app.suit', '--json');
    expect(ij.code).toBe(0);
    expect(JSON.parse(ij.out)).toMatchObject({ sequenceNumber: 42 });
    const id = await cli(dir, 'inspect', 'app.suit', '--diag');
    expect(id.out).toMatch(/^107\(/);
    expect(id.out).toContain('<<');
    expect((await cli(dir, 'inspect', 'app.suit')).out).toContain('condition-image-match');
  });

  it('refuses to overwrite keys without --force, and never prints private key bytes', async () => {
    const d = await tempDir();
    const r1 = await cli(d, 'keygen', '--alg', 'ed25519', '--out', 'k');
    expect(r1.code).toBe(0);
    const pem = await readFile(path.join(d, 'k.pem'), 'utf8');
    const r2 = await cli(d, 'keygen', '--alg', 'ed25519', '--out', 'k', '--json');
    expect(r2.json()).toMatchObject({ ok: false, code: 'FILE_EXISTS' });
    expect(r2.code).toBe(ERRORS.FILE_EXISTS.exit);
    expect(await readFile(path.join(d, 'k.pem'), 'utf8')).toBe(pem);
    const r3 = await cli(d, 'keygen', '--alg', 'ed25519', '--out', 'k', '--force', '--json');
    expect(r3.code).toBe(0);
    const newPem = await readFile(path.join(d, 'k.pem'), 'utf8');
    expect(newPem).not.toBe(pem);
    const body = newPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const secretB64 = Buffer.from(body, 'base64').subarray(-32);
    for (const r of [r1, r3]) {
      expect(r.out + r.err).not.toContain(body.slice(10, 40));
      expect(r.out + r.err).not.toContain(secretB64.toString('hex'));
    }
  });

  it('encrypts with --passphrase-file and needs it to sign', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'pass.txt'), 'correct horse battery staple\n');
    await writeFile(path.join(d, 'wrong.txt'), 'nope\n');
    expect((await cli(d, 'keygen', '--alg', 'p256', '--out', 'k', '--passphrase-file', 'pass.txt')).code).toBe(0);
    expect(await readFile(path.join(d, 'k.pem'), 'utf8')).toContain('ENCRYPTED PRIVATE KEY');
    await writeFile(path.join(d, 'img'), 'x');
    await writeFile(path.join(d, 'r.json'), JSON.stringify({ vendor: { domain: 'a.example' }, class: { info: 'c' }, sequenceNumber: 1, components: [{ id: ['0x00'], image: 'img' }] }));
    expect((await cli(d, 'create', '--release', 'r.json', '-o', 'u.suit')).code).toBe(0);
    const noPass = await cli(d, 'sign', 'u.suit', '--key', 'k.pem', '-o', 's.suit', '--json');
    expect(noPass.json()).toMatchObject({ ok: false, code: 'KEY_PASSPHRASE_REQUIRED' });
    const wrong = await cli(d, 'sign', 'u.suit', '--key', 'k.pem', '-o', 's.suit', '--passphrase-file', 'wrong.txt', '--json');
    expect(wrong.json()).toMatchObject({ ok: false, code: 'KEY_PASSPHRASE_REQUIRED' });
    const ok = await cli(d, 'sign', 'u.suit', '--key', 'k.pem', '-o', 's.suit', '--passphrase-file', 'pass.txt', '--json');
    expect(ok.code, ok.out).toBe(0);
    expect((await cli(d, 'verify', 's.suit', '--key', 'k.pub.pem')).code).toBe(0);
    if (hasOpenssl()) {
      const pub = execFileSync('openssl', ['pkey', '-in', path.join(d, 'k.pem'), '-passin', `file:${path.join(d, 'pass.txt')}`, '-pubout'], { encoding: 'utf8' });
      expect(pub).toBe(await readFile(path.join(d, 'k.pub.pem'), 'utf8'));
    }
  });

  it.skipIf(!hasOpenssl())('openssl pkey reads our keys and derives the same public key', async () => {
    const d = await tempDir();
    for (const alg of ['ed25519', 'p256']) {
      expect((await cli(d, 'keygen', '--alg', alg, '--out', alg)).code).toBe(0);
      const derived = execFileSync('openssl', ['pkey', '-in', path.join(d, `${alg}.pem`), '-pubout'], { encoding: 'utf8' });
      expect(derived).toBe(await readFile(path.join(d, `${alg}.pub.pem`), 'utf8'));
      // and openssl reads our SPKI too
      const again = execFileSync('openssl', ['pkey', '-pubin', '-in', path.join(d, `${alg}.pub.pem`), '-pubout'], { encoding: 'utf8' });
      expect(again).toBe(derived);
    }
  });

  it('every command has --help with an example; usage errors exit 64', async () => {
    const d = await tempDir();
    for (const c of ['keygen', 'create', 'sign', 'digest', 'attach', 'verify', 'inspect', 'bundle', 'bundle-check', 'delta']) {
      const r = await cli(d, c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.out, c).toMatch(/Example/);
      expect(r.out, c).toContain(`suit-sign ${c}`);
    }
    for (const c of [['anchors', 'build'], ['anchors', 'sign'], ['anchors', 'verify'], ['anchors', 'verify-chain'], ['anchors', 'inspect'], ['lms-state', 'show'], ['lms-state', 'adopt']]) {
      const r = await cli(d, ...c, '--help');
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.out, c.join(' ')).toContain(`suit-sign ${c.join(' ')}`);
    }
    const bad = await cli(d, 'verify', '--json');
    expect(bad.code).toBe(64);
    expect(bad.json()).toMatchObject({ ok: false, code: 'USAGE' });
    expect((await cli(d, 'no-such-command')).code).toBe(64);
    const missing = await cli(d, 'verify', 'nope.suit', '--key', 'nope.pem', '--json');
    expect(missing.json()).toMatchObject({ ok: false, code: 'FILE_NOT_FOUND' });
    expect(missing.code).toBe(66);
  });

  it('runs as a real process through bin/suit-sign.mjs with the exit status of the table', async () => {
    const d = await tempDir();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/suit-sign.mjs'), 'keygen', '--alg', 'ed25519', '--out', path.join(d, 'k'), '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    const v = spawnSync(process.execPath, [path.join(ROOT, 'bin/suit-sign.mjs'), 'verify', path.join(d, 'k.cose'), '--key', path.join(d, 'k.pub.pem'), '--json'], { encoding: 'utf8' });
    expect(v.status).not.toBe(0);
    const body = JSON.parse(v.stdout) as { ok: boolean; code: keyof typeof ERRORS };
    expect(body.ok).toBe(false);
    expect(v.status).toBe(ERRORS[body.code].exit);
  });
});
