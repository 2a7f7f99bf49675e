/** Test harness: a server over a temp data dir with the fake verifier and a known admin token. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createServer, type CreatedServer, type ServerOptions } from '../server.js';
import { buildOpenApi } from '../openapi.js';
import { defaultMounts } from '../mounts.js';
import { fakeVerifier } from './fake-verifier.js';
import { makeChecker } from './openapi-check.js';

export const ADMIN = 'test-admin-token-0123456789';

export interface Harness {
  dir: string;
  server: CreatedServer;
  http: ReturnType<typeof request>;
  check: ReturnType<typeof makeChecker>;
  /** Re-open over the same data dir (restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
  /** Creates a tenant and a token with that role in it; returns the secret. */
  tenantToken(tenantId: string, role: 'operator' | 'viewer' | 'release-manager'): Promise<string>;
}

export async function makeHarness(opts: Partial<ServerOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'suit-srv-'));
  const open = () => createServer({ dataDir: dir, logger: 'silent', adminToken: ADMIN, verifier: fakeVerifier, ...opts });
  const h: Harness = {
    dir,
    server: await open(),
    http: undefined as unknown as ReturnType<typeof request>,
    check: makeChecker(buildOpenApi(defaultMounts) as Record<string, any>),
    async restart() {
      await h.server.close();
      h.server = await open();
      h.http = request(h.server.app);
    },
    async close() {
      await h.server.close();
      await rm(dir, { recursive: true, force: true });
    },
    async tenantToken(tenantId, role) {
      const auth = { Authorization: `Bearer ${ADMIN}` };
      const t = await h.http.post('/api/v1/tenants').set(auth).send({ id: tenantId, name: tenantId });
      if (t.status !== 201 && t.status !== 409) throw new Error(`tenant: ${t.status} ${JSON.stringify(t.body)}`);
      const tok = await h.http.post('/api/v1/tokens').set(auth).send({ role, tenantId, label: `${tenantId}-${role}` });
      if (tok.status !== 201) throw new Error(`token: ${tok.status} ${JSON.stringify(tok.body)}`);
      return (tok.body as { token: string }).token;
    },
  };
  h.http = request(h.server.app);
  return h;
}

export const bearer = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` });
