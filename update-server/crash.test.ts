/**
 * kill -9 during uploads: nothing acknowledged is lost, nothing half-written becomes visible.
 * Runs the real bin in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
});
