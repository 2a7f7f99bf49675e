/**
 * `processEnvelope`: run sections of a decoded (and already verified) SUIT_Envelope on a platform.
 * Wires the envelope's manifest digest (report reference), integrated payloads (fetch of `#name`) and
 * severed members into a `Processor`.
 */
import type { SuitEnvelope } from '../model.js';
import { getSevered } from '../envelope/index.js';
import { UpdateError } from '../errors.js';
import { Processor, type ProcessorOptions, type ProcessResult } from './processor.js';
import type { Platform } from './platform.js';

export type ProcessOptions = Omit<ProcessorOptions, 'manifestDigest' | 'integrated' | 'resolveSevered'> & {
  /** Override how severed sections are found (default: `getSevered`, which checks the member's digest). */
  resolveSevered?: ProcessorOptions['resolveSevered'];
};

const SEQUENCE_KEYS = new Set([15, 16, 18, 20]);

/**
 * Run `options.sections` of `env.manifest` on `platform`. Call `verifyEnvelope` first: this function does
 * no signature work. Never throws for a manifest that fails (see `ProcessResult`); throws `USAGE` for misuse.
 */
export async function processEnvelope(env: SuitEnvelope, platform: Platform, options: ProcessOptions): Promise<ProcessResult> {
  const opts: ProcessorOptions = { ...options, manifestDigest: env.digest, integrated: env.integrated };
  opts.resolveSevered =
    options.resolveSevered ??
    ((key) => {
      const seq = SEQUENCE_KEYS.has(key) ? getSevered(env, key as 15 | 16 | 18 | 20) : undefined;
      if (seq === undefined) throw new UpdateError('SEVERED_MEMBER_MISSING', `section ${key} is not in the envelope`);
      return seq;
    });
  return new Processor(env.manifest, platform, opts).run();
}
