/**
 * The kill switch: the operator tells devices to stop asking for updates until a time (whole server,
 * or one tenant). Polls then answer `status: "paused"` with a poll interval that reaches past `until`;
 * no assignment is created or served meanwhile (fleet-servers.md ask 5: a fleet must be stoppable).
 */
import type { Kysely } from 'kysely';
import type { ServerContext } from '../context.js';
import type { CoreTables } from '../state/index.js';
import type { RolloutTables } from './tables.js';

export const GLOBAL_SCOPE = '*';

export interface KillSwitch { scope: string; until: string; reason: string; createdBy: string; createdAt: string }

export class KillSwitches {
  private cache: Map<string, KillSwitch> | undefined;

  constructor(private readonly ctx: ServerContext, private readonly now: () => number = Date.now) {}

  private get db(): Kysely<CoreTables & RolloutTables> {
    return this.ctx.store.db.withTables<RolloutTables>() as unknown as Kysely<CoreTables & RolloutTables>;
  }

  async load(): Promise<Map<string, KillSwitch>> {
    if (this.cache) return this.cache;
    const rows = await this.db.selectFrom('kill_switches').selectAll().execute();
    this.cache = new Map(rows.map((r) => [r.scope, { scope: r.scope, until: r.until, reason: r.reason, createdBy: r.created_by, createdAt: r.created_at }]));
    return this.cache;
  }

  /** The switch in force for a device of `tenantId` (global first), or null. Synchronous once loaded. */
  activeFor(tenantId: string | null): KillSwitch | null {
    const c = this.cache;
    if (!c || c.size === 0) return null;
    const t = this.now();
    for (const key of [GLOBAL_SCOPE, tenantId]) {
      if (key === null) continue;
      const k = c.get(key);
      if (k && Date.parse(k.until) > t) return k;
    }
    return null;
  }

  async set(k: KillSwitch): Promise<void> {
    await this.load();
    await this.ctx.store.transaction(async (tx) => {
      const db = tx.db.withTables<RolloutTables>();
      await db.deleteFrom('kill_switches').where('scope', '=', k.scope).execute();
      await db.insertInto('kill_switches').values({ scope: k.scope, until: k.until, reason: k.reason, created_by: k.createdBy, created_at: k.createdAt }).execute();
      await this.ctx.audit({ actor: k.createdBy, tenantId: k.scope === GLOBAL_SCOPE ? null : k.scope, action: 'killswitch.set', target: k.scope, details: { until: k.until, reason: k.reason } }, tx);
    });
    this.cache!.set(k.scope, k);
  }

  async clear(scope: string, actor: string): Promise<boolean> {
    await this.load();
    let n = 0;
    await this.ctx.store.transaction(async (tx) => {
      const r = await tx.db.withTables<RolloutTables>().deleteFrom('kill_switches').where('scope', '=', scope).executeTakeFirst();
      n = Number(r.numDeletedRows);
      if (n > 0) await this.ctx.audit({ actor, tenantId: scope === GLOBAL_SCOPE ? null : scope, action: 'killswitch.clear', target: scope }, tx);
    });
    this.cache!.delete(scope);
    return n > 0;
  }
}

const all = new WeakMap<ServerContext, KillSwitches>();
export function killSwitches(ctx: ServerContext): KillSwitches {
  let k = all.get(ctx);
  if (!k) all.set(ctx, (k = new KillSwitches(ctx)));
  return k;
}
