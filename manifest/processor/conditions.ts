/**
 * Conditions (§8.4.9, trust-domains §6, update-management §4): each checks one property of a component
 * against a parameter. A failed check is a condition failure (absorbable by soft-failure); a missing
 * platform capability is COMMAND_UNSUPPORTED (an abort).
 */
import { Tagged, bytesEqual, encodeCbor, type CborValue } from '../cbor.js';
import { UpdateError, type ErrorCode } from '../errors.js';
import { CMD, PARAM } from '../keys.js';
import type { Command, ComponentId, ParamValue, SuitDigest, VersionMatch } from '../model.js';
import { constantTimeEqual } from '../constant-time.js';
import { checkManifestDigest, decodeEnvelope, digestEquals } from '../envelope/index.js';
import type { CommandRun } from './command-run.js';
import { failCondition } from './failures.js';
import { commandName } from './names.js';
import { isDigest, isVersionMatch, toBig } from './parameters.js';
import type { IdentityValue } from './platform.js';

/** Largest dependency envelope read for image-match (the envelope decode limit). */
const DEPENDENCY_MAX_BYTES = 64 * 1024;

/** The identity conditions (§8.4.9.1): their parameter, failure code and the Platform identities they match. */
export const ID_CONDITIONS: Record<number, { param: number; code: ErrorCode; which: 'vendorIds' | 'classIds' | 'deviceIds' }> = {
  [CMD.VENDOR_IDENTIFIER]: { param: PARAM.VENDOR_IDENTIFIER, code: 'VENDOR_MISMATCH', which: 'vendorIds' },
  [CMD.CLASS_IDENTIFIER]: { param: PARAM.CLASS_IDENTIFIER, code: 'CLASS_MISMATCH', which: 'classIds' },
  [CMD.DEVICE_IDENTIFIER]: { param: PARAM.DEVICE_IDENTIFIER, code: 'DEVICE_MISMATCH', which: 'deviceIds' },
};

/** Binary match of an identifier parameter against one device identity (§8.4.9.1: exact bytes). */
export function identityMatches(param: ParamValue, id: IdentityValue): boolean {
  if (param instanceof Uint8Array && id instanceof Uint8Array) return bytesEqual(param, id);
  if (param instanceof Tagged && id instanceof Tagged) {
    return bytesEqual(encodeCbor(param as CborValue), encodeCbor(id as CborValue));
  }
  return false;
}

/**
 * update-management version match: compare pairwise, stopping when the manifest's array is exhausted or
 * at the first difference; a missing element of the installed version counts as 0 (so release 1.2 = [1,2]
 * is above 1.2-rc.3 = [1,2,-1,3] and `==[1]` matches 1.x.y).
 */
export function versionMatches(current: readonly number[], match: VersionMatch): boolean {
  let c = 0;
  for (let i = 0; i < match.version.length; i++) {
    const have = current[i] ?? 0;
    const want = match.version[i]!;
    if (have !== want) {
      c = have < want ? -1 : 1;
      break;
    }
  }
  switch (match.cmp) {
    case 1:
      return c > 0;
    case 2:
      return c >= 0;
    case 3:
      return c === 0;
    case 4:
      return c <= 0;
    case 5:
      return c < 0;
    default:
      return false;
  }
}

/** Run condition `cmd` on component `idx`. */
export async function runCondition(run: CommandRun, cmd: Extract<Command, { kind: 'condition' }>, idx: number): Promise<void> {
  const p = run.platform;
  const idCond = ID_CONDITIONS[cmd.code];
  if (idCond !== undefined) {
    const want = run.params.need(idx, idCond.param, cmd, (v): v is Uint8Array | Tagged => v instanceof Uint8Array || v instanceof Tagged, commandName(cmd.code).replace('condition-', ''));
    const have = await p[idCond.which](run.components.id(idx, cmd));
    if (!have.some((h) => identityMatches(want, h))) failCondition(idCond.code, `${commandName(cmd.code)} failed for component ${idx}`);
    return;
  }
  switch (cmd.code) {
    case CMD.IMAGE_MATCH:
    case CMD.IMAGE_NOT_MATCH: {
      const matches = await imageMatches(run, cmd, idx);
      if (cmd.code === CMD.IMAGE_MATCH && !matches) failCondition('IMAGE_MISMATCH', `image of component ${idx} does not match image-digest/image-size`);
      if (cmd.code === CMD.IMAGE_NOT_MATCH && matches) failCondition('CONDITION_FAILED', `image of component ${idx} matches (image-not-match)`);
      return;
    }
    case CMD.USE_BEFORE: {
      const limit = toBig(run.params.need(idx, PARAM.USE_BEFORE, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'use-before'))!;
      // No trusted clock ⇒ fail closed (update-management: use-before cannot be proven).
      const now = p.now ? await p.now() : undefined;
      if (now === undefined) failCondition('CONDITION_FAILED', 'use-before: no trusted time available');
      if (BigInt(now) >= limit) failCondition('CONDITION_FAILED', `use-before ${limit} has passed`);
      return;
    }
    case CMD.COMPONENT_SLOT: {
      const want = toBig(run.params.need(idx, PARAM.COMPONENT_SLOT, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'component-slot'))!;
      const have = await p.componentSlot(run.components.id(idx, cmd));
      if (have === undefined || BigInt(have) !== want) failCondition('CONDITION_FAILED', `component ${idx} is not in slot ${want}`);
      return;
    }
    case CMD.CHECK_CONTENT: {
      const want = run.params.need(idx, PARAM.CONTENT, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'content');
      const id = run.components.id(idx, cmd);
      const size = await p.size(id);
      const ok = size === want.length && constantTimeEqual(await p.read(id, 0, want.length), want);
      if (!ok) failCondition('CONDITION_FAILED', `content of component ${idx} differs`);
      return;
    }
    case CMD.ABORT:
      failCondition('CONDITION_FAILED', 'suit-condition-abort');
      return;
    case CMD.IS_DEPENDENCY:
      if (!run.manifest.common.dependencies?.has(idx)) failCondition('CONDITION_FAILED', `component ${idx} is not a dependency`);
      return;
    case CMD.DEPENDENCY_INTEGRITY: {
      if (!p.dependencyIntegrity) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not support dependency-integrity');
      const expected = run.params.need(idx, PARAM.IMAGE_DIGEST, cmd, isDigest, 'image-digest');
      if (!run.manifest.common.dependencies?.has(idx)) failCondition('CONDITION_FAILED', `component ${idx} is not a dependency`);
      const ok = await p.dependencyIntegrity(run.components.id(idx, cmd), expected, run.ctx(idx, cmd));
      // trust-domains §6.4: failure of dependency-integrity aborts (not absorbed by soft-failure).
      if (!ok) throw new UpdateError('DEPENDENCY_FAILED', `dependency ${idx} failed its integrity check`);
      run.verifiedDependencies.add(idx);
      return;
    }
    case CMD.MINIMUM_BATTERY: {
      if (!p.batteryMilliwattHours) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot report its battery level');
      const min = toBig(run.params.need(idx, PARAM.MINIMUM_BATTERY, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'minimum-battery'))!;
      const have = await p.batteryMilliwattHours();
      if (!(have >= Number(min))) failCondition('CONDITION_FAILED', `battery ${have} mWh is below ${min} mWh`);
      return;
    }
    case CMD.UPDATE_AUTHORIZED: {
      if (!p.updateAuthorized) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform has no update authorization');
      if (!(await p.updateAuthorized(run.ctx(idx, cmd)))) failCondition('CONDITION_FAILED', 'update not authorized');
      return;
    }
    case CMD.VERSION: {
      if (!p.currentVersion) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot report component versions');
      const match = run.params.need(idx, PARAM.VERSION, cmd, isVersionMatch, 'version');
      const have = await p.currentVersion(run.components.id(idx, cmd));
      if (have === undefined || !versionMatches(have, match)) {
        failCondition('CONDITION_FAILED', `version of component ${idx} (${have?.join('.') ?? 'unknown'}) does not satisfy type ${match.cmp} [${match.version.join(',')}]`);
      }
      return;
    }
    default:
      // update-management: an unknown condition is a failure.
      failCondition('CONDITION_FAILED', `unknown condition ${cmd.code}`);
  }
}

async function imageMatches(run: CommandRun, cmd: Command, idx: number): Promise<boolean> {
  const want = run.params.need(idx, PARAM.IMAGE_DIGEST, cmd, isDigest, 'image-digest');
  const sizeParam = run.params.of(idx).get(PARAM.IMAGE_SIZE);
  let size: number | undefined;
  if (sizeParam !== undefined) {
    const s = toBig(sizeParam);
    if (s === undefined || s < 0n || s > BigInt(Number.MAX_SAFE_INTEGER)) throw new UpdateError('MANIFEST_MALFORMED', 'image-size must be an unsigned integer');
    size = Number(s);
  }
  const id = run.components.id(idx, cmd);
  const isDependency = run.manifest.common.dependencies?.has(idx) === true;
  const decided = run.platform.matchImage ? await run.platform.matchImage(id, want, size, run.ctx(idx, cmd)) : undefined;
  if (isDependency) {
    const ok = decided ?? (await dependencyMatches(run, id, want, size));
    // The draft's trust-domains example 2 runs process-dependency after only an image-match of the
    // dependency (in dependency-resolution); accept that as the integrity check of this run too.
    if (ok) run.verifiedDependencies.add(idx);
    return ok;
  }
  if (decided !== undefined) return decided;
  // §8.4.9.2: digest of the component (over image-size bytes when set) equals image-digest.
  if (size !== undefined && (await run.platform.size(id)) !== size) return false;
  const d = await run.platform.digest(id, want.alg, size);
  return d !== undefined && digestEquals(d, want);
}

/**
 * trust-domains §5: image-match on a dependency compares the dependency's manifest digest
 * (SUIT_Authentication[0]), so re-signing it does not break the reference; image-size is the
 * size of the stored envelope.
 */
async function dependencyMatches(run: CommandRun, id: ComponentId, want: SuitDigest, size: number | undefined): Promise<boolean> {
  const have = await run.platform.size(id);
  if (have === undefined || (size !== undefined && have !== size) || have > DEPENDENCY_MAX_BYTES) return false;
  try {
    const env = decodeEnvelope(await run.platform.read(id, 0, have));
    checkManifestDigest(env);
    return digestEquals(env.digest, want);
  } catch (e) {
    if (e instanceof UpdateError) return false;
    throw e;
  }
}
