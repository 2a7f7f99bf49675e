/**
 * `processEnvelope`: run sections of a decoded (and already verified) SUIT_Envelope on a platform.
 * Wires the envelope's manifest digest (report reference), integrated payloads (fetch of `#name`) and
 * severed members into a `Processor`.
 */
import { UpdateError } from '../errors.js';
import type { CommandSequence, SuitEnvelope } from '../model.js';
import * as envelopeModule from '../envelope/index.js';
import { Processor, type ProcessorOptions, type ProcessResult } from './processor.js';
import type { Platform } from './platform.js';

export type ProcessOptions = Omit<ProcessorOptions, 'manifestDigest' | 'integrated' | 'resolveSevered'> & {
  /** Override how severed sections are found (default: the envelope module's `getSevered`). */
  resolveSevered?: ProcessorOptions['resolveSevered'];
};

type GetSevered = (env: SuitEnvelope, key: number) => unknown;

/** Default severed-section resolver: the envelope module's digest-checked `getSevered`, once it exists. */
function defaultResolver(env: SuitEnvelope): ((key: number) => CommandSequence) | undefined {
  const getSevered = (envelopeModule as Record<string, unknown>)['getSevered'] as GetSevered | undefined;
  if (typeof getSevered !== 'function') return undefined;
  return (key) => {
    const v = getSevered(env, key) as unknown;
    if (v !== null && typeof v === 'object' && 'commands' in v) return v as CommandSequence;
    if (v !== null && typeof v === 'object' && 'present' in v) return (v as { present: CommandSequence }).present;
    throw new UpdateError('SEVERED_MEMBER_MISSING', `severed member ${key} is not a command sequence`);
  };
}

/**
 * Run `options.sections` of `env.manifest` on `platform`. Call `verifyEnvelope` first: this function does
 * no signature work. Never throws for a manifest that fails (see `ProcessResult`); throws `USAGE` for misuse.
 */
export async function processEnvelope(env: SuitEnvelope, platform: Platform, options: ProcessOptions): Promise<ProcessResult> {
  const opts: ProcessorOptions = { ...options, manifestDigest: env.digest, integrated: env.integrated };
  const resolver = options.resolveSevered ?? defaultResolver(env);
  if (resolver !== undefined) opts.resolveSevered = resolver;
  return new Processor(env.manifest, platform, opts).run();
}
