/**
 * kill -9 during uploads and during a release creation: nothing acknowledged is lost, nothing
 * half-written becomes visible. Runs the real bin (uploads) or testing/crash-server.ts (releases, with
 * the fake verifier and a hold inside the release transaction) in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeEnvelope, fakeKey } from './testing/fake-verifier.js';
import { openSqliteStore, verifyAuditChain } from './state/index.js';

const TOKEN = 'crash-test-admin-token-123';
const root = join(import.meta.dirname, '..');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function start(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/suit-server.mjs', 'start', '--data', dir, '--port', '0', '--json', '--log-level', 'silent'], {
    cwd: root, env: { ...process.env, SUIT_ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, url };
}

/** testing/crash-server.ts through the tsx loader; resolves once it listens. `onLine` sees later stdout lines. */
async function startHeld(dir: string, hold: boolean, onLine: (l: string) => void = () => undefined): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'update-server/testing/crash-server.ts', dir], {
    cwd: root, env: { ...process.env, SUIT_ADMIN_TOKEN: TOKEN, CRASH_HOLD_RELEASE: hold ? '1' : '0' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('{')) resolve((JSON.parse(line) as { url: string }).url);
        else onLine(line);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, url };
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Sends `head` of a body that claims `total` bytes, then waits (the process is killed meanwhile). */
function partialPut(url: string, path: string, headers: Record<string, string>, head: Buffer, total: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { method: 'PUT', headers: { ...headers, Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/octet-stream', 'Content-Length': String(total) } });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(head, () => setTimeout(resolve, 300));
  });
}

describe('crash safety (kill -9)', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'suit-crash-')); });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a whole upload cut by kill -9 leaves nothing visible; a resumable one keeps its acknowledged offset', async () => {
    const big = Buffer.alloc(2_000_000, 0x5a);
    big.write('payload', 0);
    const s = sha(big);
    let srv = await start(dir);
    const auth = { Authorization: `Bearer ${TOKEN}` };

    // Resumable: first chunk acknowledged (202).
    const first = await fetch(`${srv.url}/api/v1/payloads/${s}`, {
      method: 'PUT', body: big.subarray(0, 500_000),
      headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Range': `bytes 0-499999/${big.length}` },
    });
    expect(first.status).toBe(202);

    // A second payload as a whole upload, cut half-way by kill -9.
    const other = Buffer.alloc(1_000_000, 0x33);
    await partialPut(srv.url, `/api/v1/payloads/${sha(other)}`, {}, other.subarray(0, 400_000), other.length);
    await kill9(srv.child);

    srv = await start(dir);
    const gone = await fetch(`${srv.url}/api/v1/payloads/${sha(other)}`, { headers: auth });
    expect(gone.status).toBe(404);
    const files = await readdir(join(dir, 'objects', 'payloads')).catch(() => [] as string[]);
    expect(files).not.toContain(sha(other));
    expect(await readdir(join(dir, 'objects', '.tmp'))).toEqual([]);

    const st = await fetch(`${srv.url}/api/v1/payloads/${s}/upload`, { headers: auth });
    expect(st.status).toBe(200);
    const { offset } = (await st.json()) as { offset: number };
    expect(offset).toBe(500_000);
    const rest = await fetch(`${srv.url}/api/v1/payloads/${s}`, {
      method: 'PUT', body: big.subarray(offset),
      headers: { ...auth, 'Content-Type': 'application/octet-stream', 'Content-Range': `bytes ${offset}-${big.length - 1}/${big.length}` },
    });
    expect(rest.status).toBe(201);
    const dl = await fetch(`${srv.url}/api/v1/payloads/${s}/content`, { headers: auth });
    expect(sha(new Uint8Array(await dl.arrayBuffer()))).toBe(s);
    const audit = await fetch(`${srv.url}/api/v1/audit?limit=1000`, { headers: auth });
    const actions = ((await audit.json()) as { items: { action: string }[] }).items.map((e) => e.action);
    expect(actions.filter((a) => a === 'payload.upload')).toHaveLength(1);
    await kill9(srv.child);
  });

  it('a release creation cut by kill -9 inside its transaction leaves no release, no audit entry; retrying creates it', async () => {
    const rdir = await mkdtemp(join(tmpdir(), 'suit-crash-rel-'));
    try {
      const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
      const V = 'a0a1a2a3-0000-4000-8000-000000000001';
      const C = 'b0b1b2b3-0000-4000-8000-000000000002';
      const image = Buffer.from('release image '.repeat(300));
      let inTx!: () => void;
      const reached = new Promise<void>((r) => { inTx = r; });
      let srv = await startHeld(rdir, true, (l) => { if (l === 'in-release-tx') inTx(); });
      expect((await fetch(`${srv.url}/api/v1/anchors/${V}/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ format: 'pem', key: fakeKey('aa01') }) })).status).toBe(201);
      expect((await fetch(`${srv.url}/api/v1/payloads/${sha(image)}`, { method: 'PUT', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: image })).status).toBe(201);
      const envelope = fakeEnvelope({ vendorId: V, classId: C, sequence: 1, version: '1.0.0', components: [{ digest: sha(image), size: image.length }], signedBy: ['aa01'] });
      const id = sha(envelope);
      const post = () => fetch(`${srv.url}/api/v1/releases`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/suit-envelope+cose' }, body: envelope });
      const pending = post().then(() => 'answered', () => 'cut');
      await reached;
      await kill9(srv.child);
      expect(await pending).toBe('cut');

      srv = await startHeld(rdir, false);
      const get = await fetch(`${srv.url}/api/v1/releases/${id}`, { headers: auth });
      expect(get.status).toBe(404);
      const list = (await (await fetch(`${srv.url}/api/v1/releases`, { headers: auth })).json()) as { items: unknown[] };
      expect(list.items).toEqual([]);
      const audit = (await (await fetch(`${srv.url}/api/v1/audit?limit=1000`, { headers: auth })).json()) as { items: { action: string }[] };
      expect(audit.items.map((e) => e.action)).not.toContain('release.create');
      // The acknowledged payload survived; the same request now succeeds, once.
      expect((await fetch(`${srv.url}/api/v1/payloads/${sha(image)}`, { headers: auth })).status).toBe(200);
      const again = await post();
      expect(again.status).toBe(201);
      expect((await fetch(`${srv.url}/api/v1/releases/${id}`, { headers: auth })).status).toBe(200);
      const audit2 = (await (await fetch(`${srv.url}/api/v1/audit?limit=1000`, { headers: auth })).json()) as { items: { action: string }[] };
      expect(audit2.items.filter((e) => e.action === 'release.create')).toHaveLength(1);
      await kill9(srv.child);
      // The hash chain is intact after the crash and the retry.
      const store = await openSqliteStore({ file: join(rdir, 'state.db') });
      try {
        expect((await verifyAuditChain(store)).ok).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      await rm(rdir, { recursive: true, force: true });
    }
  }, 30_000);
});
