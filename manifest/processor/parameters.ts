/**
 * Parameter storage (§6.3, §8.4.8): one map per component, cleared once per manifest run and kept across
 * sections; override-parameters always sets, set-parameters sets only what is unset (trust-domains §6.6).
 * strict-order and soft-failure are processor-wide flags, not per component.
 */
import { UpdateError } from '../errors.js';
import { CMD, PARAM } from '../keys.js';
import type { Command, ParameterMap, ParamValue, SuitDigest, VersionMatch } from '../model.js';
import { commandName } from './names.js';

/** Parameters each command consumes: they are the `properties` of its record. */
const COMMAND_PARAMS: Record<number, number[]> = {
  [CMD.VENDOR_IDENTIFIER]: [PARAM.VENDOR_IDENTIFIER],
  [CMD.CLASS_IDENTIFIER]: [PARAM.CLASS_IDENTIFIER],
  [CMD.DEVICE_IDENTIFIER]: [PARAM.DEVICE_IDENTIFIER],
  [CMD.IMAGE_MATCH]: [PARAM.IMAGE_DIGEST, PARAM.IMAGE_SIZE],
  [CMD.IMAGE_NOT_MATCH]: [PARAM.IMAGE_DIGEST, PARAM.IMAGE_SIZE],
  [CMD.USE_BEFORE]: [PARAM.USE_BEFORE],
  [CMD.COMPONENT_SLOT]: [PARAM.COMPONENT_SLOT],
  [CMD.CHECK_CONTENT]: [PARAM.CONTENT],
  [CMD.DEPENDENCY_INTEGRITY]: [PARAM.IMAGE_DIGEST],
  [CMD.MINIMUM_BATTERY]: [PARAM.MINIMUM_BATTERY],
  [CMD.UPDATE_AUTHORIZED]: [PARAM.UPDATE_PRIORITY],
  [CMD.VERSION]: [PARAM.VERSION],
  [CMD.FETCH]: [PARAM.URI],
  [CMD.WRITE]: [],
  [CMD.COPY]: [PARAM.SOURCE_COMPONENT],
  [CMD.SWAP]: [PARAM.SOURCE_COMPONENT],
  [CMD.INVOKE]: [PARAM.INVOKE_ARGS],
  [CMD.WAIT]: [PARAM.WAIT_INFO],
};

export function toBig(v: ParamValue | number | bigint): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  return undefined;
}

export function isDigest(v: unknown): v is SuitDigest {
  return typeof v === 'object' && v !== null && 'alg' in v && 'bytes' in v && (v as SuitDigest).bytes instanceof Uint8Array;
}
export function isVersionMatch(v: unknown): v is VersionMatch {
  return typeof v === 'object' && v !== null && 'cmp' in v && Array.isArray((v as VersionMatch).version);
}

export class ParameterStore {
  #maps: ParameterMap[] = [];
  softFailure = false;
  softFailureSet = false;
  strictOrder = true;
  strictOrderSet = false;

  /** §6.3: clear parameter storage before the first sequence (one map per component). */
  clear(componentCount: number): void {
    this.#maps = Array.from({ length: componentCount }, () => new Map());
  }

  of(idx: number): ParameterMap {
    return this.#maps[idx] ?? new Map();
  }

  /**
   * override-parameters (always set) / set-parameters (set if unset, trust-domains §6.6). `topLevel`:
   * running a section or the shared sequence, where setting soft-failure calls `misplacedSoftFailure`.
   */
  apply(p: ParameterMap, idx: number, override: boolean, topLevel: boolean, misplacedSoftFailure: () => never): void {
    const store = this.#maps[idx];
    if (store === undefined) return;
    for (const [k, v] of p) {
      if (k === PARAM.SOFT_FAILURE) {
        // §8.4.8.14: soft-failure may only be set inside try-each or run-sequence.
        if (topLevel) misplacedSoftFailure();
        if (override || !this.softFailureSet) {
          this.softFailure = v === true;
          this.softFailureSet = true;
        }
      } else if (k === PARAM.STRICT_ORDER) {
        // Processor-wide. We always execute in order; the value only activates the source≠target rule.
        if (override || !this.strictOrderSet) {
          this.strictOrder = v !== false;
          this.strictOrderSet = true;
        }
      } else if (override || !store.has(k)) {
        store.set(k, v);
      }
    }
  }

  /** update-management copy-params: the listed parameters of `src` into component `idx` (those `src` has). */
  copy(src: number, keys: Iterable<number>, idx: number): void {
    const dst = this.#maps[idx];
    const from = this.of(src);
    for (const k of keys) {
      const v = from.get(k);
      if (v !== undefined && dst !== undefined) dst.set(k, v);
    }
  }

  /** The parameters `cmd` consumes, as its record's `properties`. */
  properties(cmd: Command, idx: number): ParameterMap {
    const keys = COMMAND_PARAMS[cmd.code] ?? [];
    const p = this.of(idx);
    const out: ParameterMap = new Map();
    for (const k of keys) {
      const v = p.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  /** A parameter `cmd` needs: PARAMETER_MISSING when unset, MANIFEST_MALFORMED when of the wrong type. */
  need<T extends ParamValue>(idx: number, key: number, cmd: Command, check: (v: ParamValue) => v is T, what: string): T {
    const v = this.of(idx).get(key);
    if (v === undefined) {
      throw new UpdateError('PARAMETER_MISSING', `${commandName(cmd.code)} needs parameter ${what} (${key}) for component ${idx}`, { details: { parameter: key } });
    }
    if (!check(v)) throw new UpdateError('MANIFEST_MALFORMED', `parameter ${what} (${key}) has the wrong type`, { details: { parameter: key } });
    return v;
  }
}
