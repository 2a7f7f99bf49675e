/**
 * Child process for crash tests: a server over DATA with the fake verifier. With CRASH_HOLD_RELEASE=1
 * the release-creation transaction (row and audit entry written, not committed) prints
 * `in-release-tx` and then waits, so the test can kill -9 the process at exactly that point.
 * Prints `{ "url": … }` once listening.
 */
import { startServer } from '../server.js';
import { fakeVerifier } from './fake-verifier.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: crash-server.ts DATA');
const srv = await startServer({ dataDir, port: 0, logger: 'silent', adminToken: process.env['SUIT_ADMIN_TOKEN'] ?? 'crash-test-admin-token-123', verifier: fakeVerifier });
if (process.env['CRASH_HOLD_RELEASE'] === '1') {
  const orig = srv.ctx.hooks.onReleaseCreated;
  srv.ctx.hooks.onReleaseCreated = async (rel, tx) => {
    await orig?.(rel, tx);
    process.stdout.write('in-release-tx\n');
    await new Promise(() => undefined);
  };
}
process.stdout.write(JSON.stringify({ url: srv.url }) + '\n');
