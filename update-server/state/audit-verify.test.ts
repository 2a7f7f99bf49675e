import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from './sqlite.js';
import type { StateStore } from './port.js';
import { verifyAuditChain } from './audit-verify.js';

describe('verifyAuditChain', () => {
  let store: StateStore;
  beforeEach(async () => {
    store = await openSqliteStore({ file: ':memory:' });
    for (let i = 0; i < 5; i++) await store.appendAudit({ actor: 'system', tenantId: null, action: 'x.y', target: `t${i}`, details: { i } });
  });
  afterEach(async () => store.close());

  it('accepts an intact chain (also across batches)', async () => {
    expect(await verifyAuditChain(store, 2)).toMatchObject({ ok: true, count: 5, lastSeq: 5 });
  });
  it('accepts an empty log', async () => {
    const s = await openSqliteStore({ file: ':memory:' });
    expect(await verifyAuditChain(s)).toMatchObject({ ok: true, count: 0 });
    await s.close();
  });
  it('detects an edited entry', async () => {
    await store.db.updateTable('audit_log').set({ details: '{"i":99}' }).where('seq', '=', 3).execute();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, brokenAt: 3 });
  });
  it('detects a deleted entry', async () => {
    await store.db.deleteFrom('audit_log').where('seq', '=', 2).execute();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, brokenAt: 2 });
  });
  it('detects a rewritten entry whose own hash was recomputed (the next link breaks)', async () => {
    const rows = await store.listAudit({});
    await store.db.updateTable('audit_log').set({ actor: 'mallory', hash: 'f'.repeat(64) }).where('seq', '=', 4).execute();
    expect(rows).toHaveLength(5);
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, brokenAt: 4 });
  });
  it('detects a truncated head (first entry removed)', async () => {
    await store.db.deleteFrom('audit_log').where('seq', '=', 1).execute();
    expect(await verifyAuditChain(store)).toMatchObject({ ok: false, brokenAt: 1 });
  });
});
