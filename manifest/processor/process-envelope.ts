/**
 * `processEnvelope`: run sections of a decoded (and already verified) SUIT_Envelope on a platform.
 * Wires the envelope's manifest digest (report reference), integrated payloads (fetch of `#name`) and
 * severed members into a `Processor`.
 */
import type { ComponentId, SuitEnvelope } from '../model.js';
import { checkManifestDigest, decodeEnvelope, getSevered } from '../envelope/index.js';
import { SECTIONS, type SectionName } from './names.js';
import type { CommandContext, DependencyRequest } from './platform.js';
import type { SuitRecord } from './report.js';
import { UpdateError } from '../errors.js';
import { Processor, type ProcessorOptions, type ProcessResult } from './processor.js';
import type { Platform } from './platform.js';

export type ProcessOptions = Omit<ProcessorOptions, 'manifestDigest' | 'integrated' | 'resolveSevered' | 'authenticate'> & {
  /** Override how severed sections are found (default: `getSevered`, which checks the member's digest). */
  resolveSevered?: ProcessorOptions['resolveSevered'];
  /**
   * Authenticate the envelope inside the processing order (after version and rollback checks), e.g.
   * `(env) => verifyEnvelope(env, trustedKeys)`, so that a signature failure is reported in the
   * SUIT_Report instead of thrown. Without it the caller must verify before calling.
   */
  verify?: (env: SuitEnvelope) => unknown;
};

const SEQUENCE_KEYS = new Set([15, 16, 18, 20]);

/**
 * Run `options.sections` of `env.manifest` on `platform`. Signatures: pass `verify` or call
 * `verifyEnvelope` first; this function does no signature work of its own. Never throws for a manifest that fails (see `ProcessResult`); throws `USAGE` for misuse.
 */
export async function processEnvelope(env: SuitEnvelope, platform: Platform, options: ProcessOptions): Promise<ProcessResult> {
  const { verify, ...rest } = options;
  const opts: ProcessorOptions = { ...rest, manifestDigest: env.digest, integrated: env.integrated };
  if (verify) opts.authenticate = () => verify(env);
  opts.resolveSevered =
    options.resolveSevered ??
    ((key) => {
      const seq = SEQUENCE_KEYS.has(key) ? getSevered(env, key as 15 | 16 | 18 | 20) : undefined;
      if (seq === undefined) throw new UpdateError('SEVERED_MEMBER_MISSING', `section ${key} is not in the envelope`);
      return seq;
    });
  return new Processor(env.manifest, platform, opts).run();
}

/**
 * A view of `platform` in which every component id is prefixed by `prefix` (trust-domains dependency
 * prefix): a dependency's component `[00]` becomes `[...prefix, 00]` on the device.
 */
export function prefixedPlatform(platform: Platform, prefix: ComponentId): Platform {
  const px = (id: ComponentId): ComponentId => [...prefix, ...id];
  const pctx = (ctx: CommandContext): CommandContext => ({ ...ctx, componentId: px(ctx.componentId) });
  const view: Platform = {
    read: (id, o, l) => platform.read(px(id), o, l),
    size: (id) => platform.size(px(id)),
    digest: (id, alg, l) => platform.digest(px(id), alg, l),
    write: (id, d, ctx) => platform.write(px(id), d, pctx(ctx)),
    copy: (a, b, ctx) => platform.copy(px(a), px(b), pctx(ctx)),
    swap: (a, b, ctx) => platform.swap(px(a), px(b), pctx(ctx)),
    fetch: (uri, args, id, ctx) => platform.fetch(uri, args, px(id), pctx(ctx)),
    invoke: (id, args, ctx) => platform.invoke(px(id), args, pctx(ctx)),
    vendorIds: (id) => platform.vendorIds(px(id)),
    classIds: (id) => platform.classIds(px(id)),
    deviceIds: (id) => platform.deviceIds(px(id)),
    componentSlot: (id) => platform.componentSlot(px(id)),
  };
  const p = platform;
  if (p.matchImage) view.matchImage = (id, e, s, ctx) => p.matchImage!(px(id), e, s, pctx(ctx));
  if (p.batteryMilliwattHours) view.batteryMilliwattHours = () => p.batteryMilliwattHours!();
  if (p.updateAuthorized) view.updateAuthorized = (ctx) => p.updateAuthorized!(pctx(ctx));
  if (p.currentVersion) view.currentVersion = (id) => p.currentVersion!(px(id));
  if (p.now) view.now = () => p.now!();
  if (p.waitFor) view.waitFor = (w, ctx) => p.waitFor!(w, pctx(ctx));
  if (p.dependencyIntegrity) view.dependencyIntegrity = (id, e, ctx) => p.dependencyIntegrity!(px(id), e, pctx(ctx));
  if (p.processDependency) view.processDependency = (req) => p.processDependency!({ ...req, componentId: px(req.componentId) });
  if (p.unlink) view.unlink = (id, ctx) => p.unlink!(px(id), pctx(ctx));
  if (p.customCommands) view.customCommands = p.customCommands;
  return view;
}

export interface DependencyOptions {
  /** Authenticate the dependency (e.g. `verifyEnvelope` with the device's trust anchors). Throw to refuse. */
  verify?: (env: SuitEnvelope) => void | Promise<void>;
  /** Options for the nested run (maxSteps, recordAll, ...). Sections and manifestId are set from `req`. */
  options?: Omit<ProcessOptions, 'sections' | 'manifestId'>;
}

/**
 * Run the section `req.section` of the dependency envelope stored in `req.componentId` — the usual body of
 * `Platform.processDependency` (trust-domains §6.5). The dependency runs on `platform` seen through its
 * dependency prefix, with manifest-id `[...req.manifestId, req.componentIndex]`. Returns the dependency's
 * records; throws `DEPENDENCY_FAILED` (cause = the dependency's error) when it fails.
 */
export async function processDependencyEnvelope(platform: Platform, req: DependencyRequest, opts: DependencyOptions = {}): Promise<SuitRecord[]> {
  const size = await platform.size(req.componentId);
  if (size === undefined) throw new UpdateError('DEPENDENCY_FAILED', `dependency ${req.componentIndex} is empty`);
  const env = decodeEnvelope(await platform.read(req.componentId, 0, size));
  checkManifestDigest(env);
  if (opts.verify) await opts.verify(env);
  const name = (Object.keys(SECTIONS) as SectionName[]).find((n) => SECTIONS[n] === req.section);
  if (name === undefined) throw new UpdateError('DEPENDENCY_FAILED', `process-dependency in section ${req.section}`);
  const view = req.prefix ? prefixedPlatform(platform, req.prefix) : platform;
  const r = await processEnvelope(env, view, { ...opts.options, sections: [name], manifestId: [...req.manifestId, req.componentIndex] });
  // (verify already ran above, before anything of the dependency was executed)
  if (!r.ok) {
    throw new UpdateError('DEPENDENCY_FAILED', `dependency ${req.componentIndex} failed: ${r.error?.message ?? 'unknown'}`, {
      cause: r.error,
      details: { dependencyCode: r.error?.code },
    });
  }
  return r.report.records;
}
