/**
 * One contract suite for every ObjectStore backend (fs, S3 via s3rver). Every backend must keep the
 * invariant: an object is visible only once complete and verified.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { FsObjectStore } from './fs.js';
import type { ObjectStore } from './port.js';
import { startTestS3 } from './testing/s3.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}
async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(isUpdateError(e) ? e.code : e).toBe(code);
}

interface Backend { name: string; open(): Promise<{ store: ObjectStore; stop(): Promise<void> }> }

const backends: Backend[] = [
  {
    name: 'fs',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'objfs-'));
      const store = await FsObjectStore.open(join(dir, 'objects'));
      return { store, stop: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  { name: 's3 (s3rver)', open: () => startTestS3() },
];

for (const backend of backends) {
  describe(`ObjectStore contract: ${backend.name}`, () => {
    let store: ObjectStore;
    let stop: () => Promise<void>;
    beforeAll(async () => {
      ({ store, stop } = await backend.open());
    });
    afterAll(async () => stop());

    const data = Buffer.from('hello firmware '.repeat(1000));

    it('puts, heads and gets an object with a verified digest', async () => {
      const info = await store.put('payloads/a', data, { sha256: sha(data), size: data.length });
      expect(info).toMatchObject({ key: 'payloads/a', size: data.length, sha256: sha(data) });
      expect(await store.head('payloads/a')).toMatchObject({ size: data.length });
      const got = await store.get('payloads/a');
      expect((await readAll(got.body)).equals(data)).toBe(true);
      expect([got.start, got.end]).toEqual([0, data.length - 1]);
    });

    it('streams from a Readable', async () => {
      const chunks = [Buffer.from('abc'), Buffer.from('def')];
      const info = await store.put('s/stream', Readable.from(chunks), { sha256: sha(Buffer.from('abcdef')) });
      expect(info.size).toBe(6);
    });

    it('is idempotent', async () => {
      const a = await store.put('payloads/idem', data, { sha256: sha(data) });
      const b = await store.put('payloads/idem', data, { sha256: sha(data) });
      expect(b).toEqual(a);
    });

    it('refuses a digest mismatch and leaves nothing visible', async () => {
      await expectCode(store.put('payloads/bad', data, { sha256: sha(Buffer.from('other')) }), 'PAYLOAD_DIGEST_MISMATCH');
      expect(await store.head('payloads/bad')).toBeNull();
    });

    it('refuses a size mismatch and leaves nothing visible', async () => {
      await expectCode(store.put('payloads/badsize', data, { size: data.length + 1 }), 'PAYLOAD_DIGEST_MISMATCH');
      expect(await store.head('payloads/badsize')).toBeNull();
    });

    it('refuses more than maxBytes', async () => {
      await expectCode(store.put('payloads/big', data, { maxBytes: 10 }), 'INPUT_TOO_LARGE');
      expect(await store.head('payloads/big')).toBeNull();
    });

    it('a failing stream leaves nothing visible', async () => {
      const broken = new Readable({ read() { this.push(Buffer.alloc(100)); this.destroy(new Error('client went away')); } });
      await expect(store.put('payloads/broken', broken)).rejects.toBeTruthy();
      expect(await store.head('payloads/broken')).toBeNull();
    });

    it('serves byte ranges and refuses unsatisfiable ones', async () => {
      const got = await store.get('payloads/a', { start: 6, end: 13 });
      expect((await readAll(got.body)).toString()).toBe('firmware');
      expect([got.start, got.end]).toEqual([6, 13]);
      const tail = await store.get('payloads/a', { start: data.length - 3 });
      expect((await readAll(tail.body)).toString()).toBe(data.subarray(-3).toString());
      const clamped = await store.get('payloads/a', { start: 0, end: data.length + 100 });
      expect(clamped.end).toBe(data.length - 1);
      await expectCode(store.get('payloads/a', { start: data.length }), 'RANGE_NOT_SATISFIABLE');
    });

    it('answers NOT_FOUND / null for missing objects', async () => {
      expect(await store.head('payloads/none')).toBeNull();
      await expectCode(store.get('payloads/none'), 'NOT_FOUND');
    });

    it('refuses unsafe keys', async () => {
      for (const k of ['../x', 'a/../../b', '/abs', '.tmp/x', 'a//b', '', 'a/.uploads']) {
        await expectCode(store.put(k, data), 'VALIDATION_FAILED');
      }
    });

    it('deletes', async () => {
      await store.put('tmp/del', Buffer.from('x'));
      await store.delete('tmp/del');
      expect(await store.head('tmp/del')).toBeNull();
      await store.delete('tmp/del');
    });

    it('resumable upload: begin, append in pieces, resume after a wrong offset, publish on the last byte', async () => {
      const big = Buffer.alloc(300_000, 7);
      big.write('start', 0);
      const key = 'payloads/resumable';
      const s0 = await store.beginUpload(key, sha(big), big.length);
      expect(s0.offset).toBe(0);
      expect(await store.beginUpload(key, sha(big), big.length)).toMatchObject({ offset: 0 });
      await expectCode(store.beginUpload(key, sha(data), big.length), 'CONFLICT');
      const s1 = await store.appendUpload(key, 0, big.subarray(0, 100_000));
      expect(s1).toMatchObject({ offset: 100_000, complete: false });
      expect(await store.head(key)).toBeNull();
      await expectCode(store.appendUpload(key, 50, big.subarray(50, 60)), 'CONFLICT');
      expect((await store.uploadStatus(key))?.offset).toBe(100_000);
      const s2 = await store.appendUpload(key, 100_000, Readable.from([big.subarray(100_000)]));
      expect(s2).toMatchObject({ offset: big.length, complete: true });
      expect(await store.uploadStatus(key)).toBeNull();
      const got = await store.get(key);
      expect(sha(await readAll(got.body))).toBe(sha(big));
    });

    it('resumable upload: an interrupted append keeps what arrived', async () => {
      const big = Buffer.alloc(50_000, 3);
      const key = 'payloads/interrupted';
      await store.beginUpload(key, sha(big), big.length);
      let pushed = false;
      const broken = new Readable({
        read() {
          if (!pushed) { pushed = true; this.push(big.subarray(0, 20_000)); } else this.destroy(new Error('cut'));
        },
      });
      await expectCode(store.appendUpload(key, 0, broken), 'VALIDATION_FAILED');
      const st = await store.uploadStatus(key);
      expect(st?.offset).toBe(20_000);
      const done = await store.appendUpload(key, 20_000, big.subarray(20_000));
      expect(done.complete).toBe(true);
    });

    it('resumable upload: a wrong digest discards the session and publishes nothing', async () => {
      const big = Buffer.alloc(1000, 1);
      const key = 'payloads/wrong';
      await store.beginUpload(key, sha(Buffer.alloc(1000, 2)), 1000);
      await expectCode(store.appendUpload(key, 0, big), 'PAYLOAD_DIGEST_MISMATCH');
      expect(await store.head(key)).toBeNull();
      expect(await store.uploadStatus(key)).toBeNull();
    });

    it('resumable upload: too many bytes are refused and the offset is kept', async () => {
      const key = 'payloads/over';
      await store.beginUpload(key, sha(Buffer.alloc(10)), 10);
      await store.appendUpload(key, 0, Buffer.alloc(4));
      await expectCode(store.appendUpload(key, 4, Buffer.alloc(20)), 'VALIDATION_FAILED');
      expect((await store.uploadStatus(key))?.offset).toBe(4);
      await store.abortUpload(key);
      expect(await store.uploadStatus(key)).toBeNull();
    });

    it('presigned URL (S3) or null (fs)', async () => {
      const url = await store.presignGet('payloads/a', 3600);
      if (store.kind === 'fs') expect(url).toBeNull();
      else {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/suit-test\/payloads\/a\?/);
        const res = await fetch(url!, { headers: { Range: 'bytes=0-4' } });
        expect(res.status).toBe(206);
        expect(await res.text()).toBe('hello');
      }
    });

    it('pings', async () => {
      await store.ping();
    });
  });
}
