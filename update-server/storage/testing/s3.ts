/** Test helper: an s3rver on a random port in a temp dir, and an S3ObjectStore against it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { S3ObjectStore } from '../s3.js';

export interface TestS3 { store: S3ObjectStore; endpoint: string; bucket: string; stop(): Promise<void> }

export async function startTestS3(bucket = 'suit-test'): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: join(dir, 'data'), silent: true });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const store = await S3ObjectStore.open({ endpoint, bucket, accessKey: 'S3RVER', secretKey: 'S3RVER', stagingDir: join(dir, 'staging') });
  return {
    store, endpoint, bucket,
    async stop() {
      await store.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
