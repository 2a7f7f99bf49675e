/**
 * `MemoryPlatform`: a complete in-memory `Platform` for tests and tools. Components are byte arrays keyed by
 * component id; digests are computed for real (SHA-2 via the envelope module) unless a test pins one with
 * `pinDigest` (the draft examples' image digests are placeholders no real image can match). Fetch reads
 * from a URI → bytes table. Every call is logged in `calls`.
 */
import { UpdateError } from '../errors.js';
import type { ComponentId, SuitDigest, SuitEnvelope } from '../model.js';
import { checkManifestDigest, computeDigest, decodeEnvelope, digestEquals } from '../envelope/index.js';
import { processDependencyEnvelope } from './process-envelope.js';
import type { SuitRecord } from './report.js';
import { componentIdKey, type ByteSource, type CommandContext, type CustomCommandHandler, type DependencyRequest, type IdentityValue, type Platform } from './platform.js';

export interface MemoryPlatformOptions {
  vendorIds?: IdentityValue[];
  classIds?: IdentityValue[];
  deviceIds?: IdentityValue[];
  /** Per component key (`componentIdKey`) identity overrides. */
  identityByComponent?: Map<string, { vendorIds?: IdentityValue[]; classIds?: IdentityValue[]; deviceIds?: IdentityValue[] }>;
  /** URI → payload served by `fetch`. */
  remote?: Map<string, Uint8Array>;
  /** Component key → slot number. */
  slots?: Map<string, number>;
  battery?: number;
  authorized?: boolean;
  versions?: Map<string, number[]>;
  now?: bigint | number;
  /** Chunk size used to copy fetched payloads into storage (default 4096). */
  chunkSize?: number;
  customCommands?: Map<number, CustomCommandHandler>;
  /**
   * Support dependency-integrity / process-dependency: the dependency component holds a SUIT_Envelope whose
   * manifest digest must match; process-dependency runs it on this platform (through its prefix).
   */
  dependencies?: boolean;
  /** Authenticate a dependency envelope (default: none — tests only). */
  verifyDependency?: (env: SuitEnvelope) => void | Promise<void>;
}

async function collect(src: ByteSource): Promise<Uint8Array> {
  if (src instanceof Uint8Array) return src.slice();
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of src) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export class MemoryPlatform implements Platform {
  readonly storage = new Map<string, Uint8Array>();
  readonly pinned = new Map<string, SuitDigest>();
  /** SHA-256 of content (hex) → digest that `digest()` reports for it (placeholder digests of the draft examples). */
  readonly claims = new Map<string, SuitDigest>();
  readonly calls: string[] = [];
  readonly invoked: string[] = [];
  customCommands?: ReadonlyMap<number, CustomCommandHandler>;
  batteryMilliwattHours?: () => Promise<number>;
  updateAuthorized?: (ctx: CommandContext) => Promise<boolean>;
  currentVersion?: (id: ComponentId) => Promise<readonly number[] | undefined>;
  now?: () => Promise<number | bigint | undefined>;
  dependencyIntegrity?: (id: ComponentId, expected: SuitDigest, ctx: CommandContext) => Promise<boolean>;
  processDependency?: (req: DependencyRequest) => Promise<void | SuitRecord[]>;

  constructor(readonly opts: MemoryPlatformOptions = {}) {
    if (opts.customCommands) this.customCommands = opts.customCommands;
    if (opts.battery !== undefined) {
      const b = opts.battery;
      this.batteryMilliwattHours = async () => b;
    }
    if (opts.authorized !== undefined) {
      const a = opts.authorized;
      this.updateAuthorized = async () => a;
    }
    if (opts.versions) {
      const v = opts.versions;
      this.currentVersion = async (id) => v.get(componentIdKey(id));
    }
    if (opts.now !== undefined) {
      const t = opts.now;
      this.now = async () => t;
    }
    if (opts.dependencies) {
      // trust-domains: the stored dependency is a SUIT_Envelope; its manifest digest is what is referenced.
      this.dependencyIntegrity = async (id, expected) => {
        try {
          const env = decodeEnvelope(await this.read(id));
          checkManifestDigest(env);
          if (opts.verifyDependency) await opts.verifyDependency(env);
          return digestEquals(env.digest, expected);
        } catch (e) {
          if (e instanceof UpdateError) return false;
          throw e;
        }
      };
      this.processDependency = async (req) => {
        this.calls.push(`process-dependency ${componentIdKey(req.componentId)} section ${req.section}`);
        return processDependencyEnvelope(this, req, opts.verifyDependency ? { verify: opts.verifyDependency } : {});
      };
    }
  }

  /** Install content for a component (test setup). */
  install(id: ComponentId, bytes: Uint8Array): void {
    this.storage.set(componentIdKey(id), bytes.slice());
  }
  /** Make `digest()` report `d` for this component while its content is unchanged (placeholder digests). */
  pinDigest(id: ComponentId, d: SuitDigest): void {
    this.pinned.set(componentIdKey(id), d);
  }
  /** Whatever component holds exactly `bytes` reports digest `d` (survives fetch, copy and swap). */
  claim(bytes: Uint8Array, d: SuitDigest): void {
    this.claims.set(Buffer.from(computeDigest(-16, bytes).bytes).toString('hex'), d);
  }
  content(id: ComponentId): Uint8Array | undefined {
    return this.storage.get(componentIdKey(id));
  }

  private setContent(id: ComponentId, b: Uint8Array): void {
    const k = componentIdKey(id);
    this.storage.set(k, b);
    this.pinned.delete(k); // new content: a pinned digest no longer applies
  }

  async read(id: ComponentId, offset = 0, length?: number): Promise<Uint8Array> {
    const c = this.storage.get(componentIdKey(id));
    if (c === undefined) throw new UpdateError('COMPONENT_UNKNOWN', `component ${componentIdKey(id)} is empty`);
    return c.slice(offset, length === undefined ? undefined : offset + length);
  }
  async size(id: ComponentId): Promise<number | undefined> {
    return this.storage.get(componentIdKey(id))?.length;
  }
  async digest(id: ComponentId, alg: number, length?: number): Promise<SuitDigest | undefined> {
    const k = componentIdKey(id);
    const pinned = this.pinned.get(k);
    if (pinned !== undefined) return pinned;
    const c = this.storage.get(k);
    if (c === undefined) return undefined;
    const content = length === undefined ? c : c.subarray(0, length);
    if (this.claims.size > 0) {
      const claimed = this.claims.get(Buffer.from(computeDigest(-16, content).bytes).toString('hex'));
      if (claimed !== undefined && claimed.alg === alg) return claimed;
    }
    return computeDigest(alg, content);
  }
  async write(id: ComponentId, data: ByteSource, _ctx?: CommandContext): Promise<void> {
    this.calls.push(`write ${componentIdKey(id)}`);
    this.setContent(id, await collect(data));
  }
  async copy(dst: ComponentId, src: ComponentId, _ctx?: CommandContext): Promise<void> {
    this.calls.push(`copy ${componentIdKey(src)} -> ${componentIdKey(dst)}`);
    const c = this.storage.get(componentIdKey(src));
    if (c === undefined) throw new UpdateError('COMPONENT_UNKNOWN', `source component ${componentIdKey(src)} is empty`);
    const ks = componentIdKey(src);
    const pin = this.pinned.get(ks);
    this.setContent(dst, c.slice());
    if (pin) this.pinned.set(componentIdKey(dst), pin);
  }
  async swap(a: ComponentId, b: ComponentId, _ctx?: CommandContext): Promise<void> {
    this.calls.push(`swap ${componentIdKey(a)} <-> ${componentIdKey(b)}`);
    const ka = componentIdKey(a);
    const kb = componentIdKey(b);
    const ca = this.storage.get(ka);
    const cb = this.storage.get(kb);
    const pa = this.pinned.get(ka);
    const pb = this.pinned.get(kb);
    this.storage.delete(ka);
    this.storage.delete(kb);
    this.pinned.delete(ka);
    this.pinned.delete(kb);
    if (cb) this.storage.set(ka, cb);
    if (ca) this.storage.set(kb, ca);
    if (pb) this.pinned.set(ka, pb);
    if (pa) this.pinned.set(kb, pa);
  }
  async fetch(uri: string, _args: Uint8Array | undefined, target: ComponentId, _ctx?: CommandContext): Promise<void> {
    this.calls.push(`fetch ${uri} -> ${componentIdKey(target)}`);
    const body = this.opts.remote?.get(uri);
    if (body === undefined) throw new UpdateError('FETCH_FAILED', `no payload at ${uri}`);
    const chunk = this.opts.chunkSize ?? 4096;
    async function* chunks(): AsyncIterable<Uint8Array> {
      for (let o = 0; o < body!.length; o += chunk) yield body!.subarray(o, o + chunk);
    }
    this.setContent(target, await collect(chunks()));
  }
  async invoke(id: ComponentId, args: Uint8Array | undefined, _ctx?: CommandContext): Promise<void> {
    this.calls.push(`invoke ${componentIdKey(id)}${args ? ` args ${Buffer.from(args).toString('hex')}` : ''}`);
    this.invoked.push(componentIdKey(id));
  }
  private identity(id: ComponentId, which: 'vendorIds' | 'classIds' | 'deviceIds'): readonly IdentityValue[] {
    return this.opts.identityByComponent?.get(componentIdKey(id))?.[which] ?? this.opts[which] ?? [];
  }
  async vendorIds(id: ComponentId): Promise<readonly IdentityValue[]> {
    return this.identity(id, 'vendorIds');
  }
  async classIds(id: ComponentId): Promise<readonly IdentityValue[]> {
    return this.identity(id, 'classIds');
  }
  async deviceIds(id: ComponentId): Promise<readonly IdentityValue[]> {
    return this.identity(id, 'deviceIds');
  }
  async componentSlot(id: ComponentId): Promise<number | undefined> {
    return this.opts.slots?.get(componentIdKey(id));
  }
}
