/**
 * What every SUIT_Manifest decoder shares: the options, the resource limits and command counter of one
 * decode (./limits.ts), `bstr .cbor` decoding with the path in the error, and the shape helpers that
 * turn a wrong type into MANIFEST_MALFORMED naming the path.
 */
import { decodeCbor, type CborValue } from '../cbor.js';
import { UpdateError, type ErrorCode } from '../errors.js';
import type { ComponentId } from '../model.js';
import { DEFAULT_LIMITS, type EnvelopeLimits } from './limits.js';

export interface DecodeManifestOptions {
  /** Require RFC 8949 core deterministic encoding everywhere (draft §8). Default true. */
  requireDeterministic?: boolean;
  /** Override individual limits of ./limits.ts. */
  limits?: Partial<EnvelopeLimits>;
}

export class Ctx {
  commands = 0;
  readonly limits: EnvelopeLimits;
  constructor(readonly opts: DecodeManifestOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  /** Decode a `bstr .cbor X` content; CBOR errors keep their code and gain the path. */
  inner(bytes: Uint8Array, path: string, componentIdKeys = false, deterministic = this.opts.requireDeterministic ?? true): CborValue {
    try {
      return decodeCbor(bytes, {
        maxBytes: Infinity, // already bounded by the enclosing item
        maxDepth: this.limits.maxCborDepth,
        requireDeterministic: deterministic,
        allowComponentIdKeys: componentIdKeys,
      });
    } catch (e) {
      throw rethrowAt(e, path);
    }
  }

  countCommand(path: string): void {
    if (++this.commands > this.limits.maxCommands) {
      throw new UpdateError('PROCESSOR_LIMIT', `${path}: more than ${this.limits.maxCommands} commands in the manifest`, {
        details: { path, limit: this.limits.maxCommands },
      });
    }
  }
}

export function rethrowAt(e: unknown, path: string): UpdateError {
  if (e instanceof UpdateError) {
    return new UpdateError(e.code, `${path}: ${e.message}`, { cause: e, details: { ...e.details, path } });
  }
  return new UpdateError('MANIFEST_MALFORMED', `${path}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

export function bad(path: string, what: string, code: ErrorCode = 'MANIFEST_MALFORMED'): UpdateError {
  return new UpdateError(code, `${path}: ${what}`, { details: { path } });
}

export function isUint(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);
}

export function isInt(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

export function uintNumber(v: CborValue, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(path, 'expected an unsigned integer');
  return v;
}

export function bstr(v: CborValue, path: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(path, 'expected a byte string');
  return v;
}

export function intMap(v: CborValue, path: string): Map<number, CborValue> {
  if (!(v instanceof Map)) throw bad(path, 'expected a map');
  for (const k of v.keys()) {
    if (typeof k !== 'number' || !Number.isInteger(k)) throw bad(path, `map key ${String(k)} is not an integer`);
  }
  return v as Map<number, CborValue>;
}

/** SUIT_Component_Identifier = [* bstr]. */
export function decodeComponentId(v: CborValue, path: string, limits: EnvelopeLimits = DEFAULT_LIMITS): ComponentId {
  if (!Array.isArray(v)) throw bad(path, 'component identifier must be an array of byte strings');
  if (v.length > limits.maxComponentIdSegments) {
    throw bad(path, `component identifier has more than ${limits.maxComponentIdSegments} segments`, 'PROCESSOR_LIMIT');
  }
  return v.map((x, i) => bstr(x, `${path}[${i}]`));
}
