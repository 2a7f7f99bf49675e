/**
 * Server-side deltas. When a release is created, `scheduleDeltas(release)` queues one job per
 * (component of the new release, recent older release of the same class with a different image for
 * that component): encode `encodeDelta(old, new)` off the request path, store the patch in the object
 * store under its sha256, and record precursor digest, target digest, patch digest and size. A poll
 * from a device whose current image digest equals a precursor is then offered the patch beside the
 * full image. The device trusts only the rebuilt image's signed digest, so the server cannot abuse a
 * delta (fleet-servers.md §6.4); a patch not smaller than the full image is recorded as `useless`
 * and never offered.
 *
 * Jobs run one at a time, in a worker thread when one can be started (the encoder is CPU-bound),
 * otherwise in-process between event-loop turns.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Kysely, Selectable } from 'kysely';
import { encodeDelta } from '../../delta/index.js';
import type { ServerContext } from '../context.js';
import type { CoreTables, ReleaseRecord } from '../state/index.js';
import type { RolloutTables } from '../rollouts/index.js';
import { payloadKey } from '../storage/index.js';
import { newId } from '../util/ids.js';
import type { DeltasTable } from '../rollouts/tables.js';

export type DeltaEncoder = (oldBytes: Uint8Array, newBytes: Uint8Array) => Promise<Uint8Array>;

export interface DeltaRecord {
  id: string;
  releaseId: string;
  componentIndex: number;
  fromSha256: string;
  toSha256: string;
  state: 'pending' | 'ready' | 'failed' | 'useless';
  patchSha256: string | null;
  size: number | null;
  objectKey: string | null;
  error: string | null;
}

const toDelta = (r: Selectable<DeltasTable>): DeltaRecord => ({
  id: r.id, releaseId: r.release_id, componentIndex: Number(r.component_index), fromSha256: r.from_sha256, toSha256: r.to_sha256,
  state: r.state as DeltaRecord['state'], patchSha256: r.patch_sha256, size: r.size === null ? null : Number(r.size), objectKey: r.object_key, error: r.error,
});

/** In-process encoding, yielding to the event loop first. */
export const inProcessEncoder: DeltaEncoder = async (o, n) => {
  await new Promise((r) => setImmediate(r));
  return encodeDelta(o, n);
};

/**
 * Encoding in a worker thread (delta-worker-boot.mjs registers the tsx loader in the thread, then runs
 * delta-worker.ts). Falls back to in-process if the worker cannot start, unless `fallback: false`.
 */
export function workerEncoder(opts: { fallback?: boolean; onFallback?: (e: unknown) => void } = {}): DeltaEncoder {
  let broken = false;
  return async (o, n) => {
    if (broken) return inProcessEncoder(o, n);
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        const w = new Worker(new URL('./delta-worker-boot.mjs', import.meta.url), { workerData: { old: o, new: n } });
        w.once('message', (m: { patch?: Uint8Array; error?: string }) => {
          void w.terminate();
          if (m.patch) resolve(new Uint8Array(m.patch));
          else reject(new Error(m.error ?? 'delta worker failed'));
        });
        w.once('error', reject);
        w.once('exit', (code) => { if (code !== 0) reject(new Error(`delta worker exited ${code}`)); });
      });
    } catch (e) {
      opts.onFallback?.(e);
      if (opts.fallback === false) throw e;
      broken = true;
      return inProcessEncoder(o, n);
    }
  };
}

export interface DeltaOptions {
  /** How many older releases of the same class get a delta to a new release. */
  fromRecent: number;
  /** Largest image (old or new) encoded; bigger ones get no delta. */
  maxImageBytes: number;
  encoder: DeltaEncoder;
}

export class DeltaService {
  private queue: Promise<void> = Promise.resolve();
  private pendingJobs = 0;
  /** `${to}:${from}` → ready delta or null (none / not ready). */
  private readonly offerCache = new Map<string, { d: DeltaRecord | null; at: number }>();

  constructor(private readonly ctx: ServerContext, readonly opts: DeltaOptions) {}

  private get db(): Kysely<CoreTables & RolloutTables> {
    return this.ctx.store.db.withTables<RolloutTables>() as unknown as Kysely<CoreTables & RolloutTables>;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.pendingJobs;
  }

  /** Resolves when every queued job finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** The hook release creation calls (also wired to the `release.created` event). Never throws. */
  async scheduleDeltas(release: ReleaseRecord): Promise<number> {
    try {
      const page = await this.ctx.store.listReleases({ vendorId: release.vendorId, classId: release.classId, includeDeprecated: false, limit: 1000 });
      const older = page.items.filter((r) => r.id !== release.id && r.sequence < release.sequence)
        .sort((a, b) => (b.sequence > a.sequence ? 1 : b.sequence < a.sequence ? -1 : 0)).slice(0, this.opts.fromRecent);
      let n = 0;
      for (const c of release.components) {
        if (!c.digest) continue;
        const seen = new Set<string>();
        for (const o of older) {
          const oc = o.components.find((x) => x.index === c.index);
          if (!oc?.digest || oc.digest === c.digest || seen.has(oc.digest)) continue;
          seen.add(oc.digest);
          if (await this.enqueue(release.id, c.index, oc.digest, c.digest)) n++;
        }
      }
      return n;
    } catch (e) {
      this.ctx.log.warn({ err: e, releaseId: release.id }, 'delta scheduling failed');
      return 0;
    }
  }

  private async enqueue(releaseId: string, componentIndex: number, from: string, to: string): Promise<boolean> {
    const at = new Date().toISOString();
    const id = newId('dl');
    const r = await this.db.insertInto('deltas').values({
      id, release_id: releaseId, component_index: componentIndex, from_sha256: from, to_sha256: to, state: 'pending',
      patch_sha256: null, size: null, object_key: null, error: null, created_at: at, updated_at: at,
    }).onConflict((oc) => oc.columns(['to_sha256', 'from_sha256']).doNothing()).executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0n) === 0) return false; // this pair exists (another release shares the image)
    this.pendingJobs++;
    this.queue = this.queue.then(() => this.run(id, from, to)).finally(() => { this.pendingJobs--; });
    return true;
  }

  private async run(id: string, from: string, to: string): Promise<void> {
    const finish = async (set: Partial<Selectable<DeltasTable>>): Promise<void> => {
      await this.db.updateTable('deltas').set({ ...set, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
      this.offerCache.delete(`${to}:${from}`);
    };
    try {
      const [oldBytes, newBytes] = await Promise.all([this.readAll(payloadKey(from)), this.readAll(payloadKey(to))]);
      if (!oldBytes || !newBytes) return await finish({ state: 'failed', error: 'an image is not in the object store' });
      const patch = await this.opts.encoder(oldBytes, newBytes);
      if (patch.length >= newBytes.length) return await finish({ state: 'useless', size: patch.length, error: null });
      const sha = createHash('sha256').update(patch).digest('hex');
      const key = `deltas/${sha}`;
      await this.ctx.objects.put(key, patch, { sha256: sha, size: patch.length });
      await finish({ state: 'ready', patch_sha256: sha, size: patch.length, object_key: key, error: null });
      this.ctx.log.info({ deltaId: id, from, to, size: patch.length, full: newBytes.length }, 'delta ready');
    } catch (e) {
      this.ctx.log.warn({ err: e, deltaId: id }, 'delta encoding failed');
      await finish({ state: 'failed', error: (e as Error).message.slice(0, 500) }).catch(() => undefined);
    }
  }

  private async readAll(key: string): Promise<Uint8Array | null> {
    const info = await this.ctx.objects.head(key);
    if (!info || info.size > this.opts.maxImageBytes) return null;
    const g = await this.ctx.objects.get(key);
    const chunks: Buffer[] = [];
    for await (const c of g.body) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  /** The ready delta from `fromSha256` to `toSha256`, if any (cached for 30 s; refreshed when a job finishes). */
  /** The cached answer of `offer`, or undefined when it needs a query (poll fast path). */
  offerCached(toSha256: string, fromSha256: string): DeltaRecord | null | undefined {
    const hit = this.offerCache.get(`${toSha256}:${fromSha256}`);
    return hit && Date.now() - hit.at < 30_000 ? hit.d : undefined;
  }

  async offer(toSha256: string, fromSha256: string): Promise<DeltaRecord | null> {
    const k = `${toSha256}:${fromSha256}`;
    const t = Date.now();
    const hit = this.offerCache.get(k);
    if (hit && t - hit.at < 30_000) return hit.d;
    const row = await this.db.selectFrom('deltas').selectAll().where('to_sha256', '=', toSha256).where('from_sha256', '=', fromSha256).where('state', '=', 'ready').executeTakeFirst();
    const d = row ? toDelta(row) : null;
    if (this.offerCache.size > 100_000) this.offerCache.clear();
    this.offerCache.set(k, { d, at: t });
    return d;
  }

  async getByPatch(patchSha256: string): Promise<DeltaRecord | null> {
    const row = await this.db.selectFrom('deltas').selectAll().where('patch_sha256', '=', patchSha256).where('state', '=', 'ready').executeTakeFirst();
    return row ? toDelta(row) : null;
  }

  async listForRelease(releaseId: string): Promise<DeltaRecord[]> {
    return (await this.db.selectFrom('deltas').selectAll().where('release_id', '=', releaseId).orderBy('id').execute()).map(toDelta);
  }
}
