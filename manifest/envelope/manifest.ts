/**
 * SUIT_Manifest codec (draft-ietf-suit-manifest-37 §8, trust-domains §5, update-management §4).
 *
 * Decoding: untrusted bytes → strict CBOR (deterministic by default: §8 "MUST use deterministic
 * encoding", which also makes `encodeManifest(decodeManifest(b))` reproduce `b`) → field-by-field shape
 * checks into the typed model of ../model.ts. Every shape error is MANIFEST_MALFORMED with a message
 * naming the path (e.g. `manifest.install[4] (directive-try-each) branch 1`); resource bounds from
 * ./limits.ts fail with PROCESSOR_LIMIT.
 *
 * Encoding is truly from the model: command sequences are re-encoded from their `commands`, never from
 * their kept `bytes`, so a model built in code (./builder.ts) and a decoded one go through one path.
 */
import { decodeCbor, encodeCbor, Tagged, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError, type ErrorCode } from '../errors.js';
import { CMD, COMMON, CONDITIONS, MAN, PARAM, TAG_CBOR_PEN } from '../keys.js';
import type {
  Command,
  CommandSequence,
  ComponentId,
  IndexArg,
  ParameterMap,
  ParamValue,
  Severable,
  SuitCommon,
  SuitDigest,
  SuitManifest,
  SuitText,
  VersionMatch,
} from '../model.js';
import { digestFromCbor, digestToCbor, digestSize } from './digest.js';
import { DEFAULT_LIMITS, type EnvelopeLimits } from './limits.js';
import { commandName, manifestMemberName, paramName } from './names.js';

// ------------------------------------------------------------------------------------------ inputs

/** A command as accepted by the encoder: `offset` is ignored, nested sequences may be plain arrays. */
export type CommandInput =
  | { kind: 'condition' | 'directive'; code: number; policy: number; offset?: number }
  | { kind: 'set-component-index'; code?: 12; index: IndexArg; offset?: number }
  | { kind: 'set-parameters'; code: 19 | 20; params: ParameterMap; offset?: number }
  | { kind: 'try-each'; code?: 15; sequences: SequenceInput[]; allowAllFail: boolean; offset?: number }
  | { kind: 'run-sequence'; code?: 32; sequence: SequenceInput; offset?: number }
  | { kind: 'override-multiple'; code?: 34; byComponent: Map<number, ParameterMap>; offset?: number }
  | { kind: 'copy-params'; code?: 35; bySource: Map<number, number[]>; offset?: number }
  | { kind: 'custom'; code: number; arg: CborValue; offset?: number };

/** A command sequence for the encoder: a decoded `CommandSequence` (its `bytes` are ignored) or a command list. */
export type SequenceInput = { commands: readonly CommandInput[]; bytes?: Uint8Array } | readonly CommandInput[];

export interface TextInput {
  byLanguage: Map<string, { keys: Map<number, string>; components: { id: ComponentId; keys: Map<number, string> }[] }>;
  bytes?: Uint8Array;
}

export type SeverableInput<T> = { present: T } | { severed: SuitDigest };

/** What `encodeManifest` takes: a decoded `SuitManifest` or one written in code (bytes optional everywhere). */
export interface ManifestInput {
  version?: 1;
  sequenceNumber: number | bigint;
  common: { components: ComponentId[]; dependencies?: Map<number, { prefix?: ComponentId }>; sharedSequence?: SequenceInput; bytes?: Uint8Array };
  referenceUri?: string;
  manifestComponentId?: ComponentId;
  setVersion?: number[];
  validate?: SequenceInput;
  load?: SequenceInput;
  invoke?: SequenceInput;
  uninstall?: SequenceInput;
  dependencyResolution?: SeverableInput<SequenceInput>;
  payloadFetch?: SeverableInput<SequenceInput>;
  candidateVerification?: SeverableInput<SequenceInput>;
  install?: SeverableInput<SequenceInput>;
  text?: SeverableInput<TextInput>;
  coswid?: SeverableInput<Uint8Array>;
  extensions?: Map<number, CborValue>;
  bytes?: Uint8Array;
}

export interface DecodeManifestOptions {
  /** Require RFC 8949 core deterministic encoding everywhere (draft §8). Default true. */
  requireDeterministic?: boolean;
  /** Override individual limits of ./limits.ts. */
  limits?: Partial<EnvelopeLimits>;
}

// ------------------------------------------------------------------------------------------ decoding

class Ctx {
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

function bad(path: string, what: string, code: ErrorCode = 'MANIFEST_MALFORMED'): UpdateError {
  return new UpdateError(code, `${path}: ${what}`, { details: { path } });
}

function isUint(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);
}

function isInt(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

function uintNumber(v: CborValue, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(path, 'expected an unsigned integer');
  return v;
}

function bstr(v: CborValue, path: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw bad(path, 'expected a byte string');
  return v;
}

function intMap(v: CborValue, path: string): Map<number, CborValue> {
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

/**
 * Byte offset of each element of the CBOR array `bytes` (relative to the array's first byte).
 * `bytes` has already been validated by the strict decoder, so this only walks heads.
 */
function elementOffsets(bytes: Uint8Array): number[] {
  let pos = 0;
  const head = (): { major: number; n: number } => {
    const ib = bytes[pos++]!;
    const info = ib & 0x1f;
    let n = info;
    if (info === 24) n = bytes[pos++]!;
    else if (info === 25) {
      n = (bytes[pos]! << 8) | bytes[pos + 1]!;
      pos += 2;
    } else if (info === 26) {
      n = ((bytes[pos]! << 24) >>> 0) + ((bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!);
      pos += 4;
    } else if (info === 27) {
      // 64-bit argument: only ever an integer value here (lengths that large cannot fit the input).
      n = 0;
      pos += 8;
    }
    return { major: ib >> 5, n };
  };
  const skip = (): void => {
    const { major, n } = head();
    if (major === 2 || major === 3) pos += n;
    else if (major === 4) for (let i = 0; i < n; i++) skip();
    else if (major === 5) for (let i = 0; i < 2 * n; i++) skip();
    else if (major === 6) skip();
    // majors 0, 1, 7: the head is the whole item (floats are refused by the decoder)
  };
  const { n } = head();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(pos);
    skip();
  }
  return out;
}

/** Decode a SUIT_Command_Sequence from the content of its bstr. `depth` 1 = a top-level sequence. */
function decodeSequence(bytes: Uint8Array, ctx: Ctx, path: string, depth: number): CommandSequence {
  if (depth > ctx.limits.maxSequenceDepth) {
    throw bad(path, `command sequences nest deeper than ${ctx.limits.maxSequenceDepth}`, 'PROCESSOR_LIMIT');
  }
  const v = ctx.inner(bytes, path);
  // SUIT_Command_Sequence = [ + (command, argument) ]: a flat, non-empty, even-length array.
  if (!Array.isArray(v)) throw bad(path, 'command sequence must be an array');
  if (v.length === 0) throw bad(path, 'command sequence is empty');
  if (v.length % 2 !== 0) throw bad(path, `command sequence has an odd number (${v.length}) of items: a command lacks its argument`);
  const offsets = elementOffsets(bytes);
  const commands: Command[] = [];
  for (let i = 0; i < v.length; i += 2) {
    const offset = offsets[i]!;
    ctx.countCommand(path);
    commands.push(decodeCommand(v[i]!, v[i + 1]!, offset, ctx, `${path}@${offset}`, depth));
  }
  return { commands, bytes };
}

function decodeCommand(codeV: CborValue, arg: CborValue, offset: number, ctx: Ctx, at: string, depth: number): Command {
  if (typeof codeV !== 'number' || !Number.isInteger(codeV)) throw bad(at, 'command code must be an integer');
  const code = codeV;
  const path = `${at} (${commandName(code)})`;
  if (code < 0) {
    // SUIT_Command_Custom = (nint, bstr / tstr / int / nil)
    if (!(arg instanceof Uint8Array || typeof arg === 'string' || isInt(arg) || arg === null)) {
      throw bad(path, 'custom command argument must be a bstr, tstr, int or nil');
    }
    return { kind: 'custom', code, arg, offset };
  }
  switch (code) {
    case CMD.SET_COMPONENT_INDEX:
      return { kind: 'set-component-index', code, index: decodeIndexArg(arg, path), offset };
    case CMD.TRY_EACH: {
      // SUIT_Directive_Try_Each_Argument = [ 2* bstr .cbor SUIT_Command_Sequence, ?nil ]
      if (!Array.isArray(arg)) throw bad(path, 'try-each argument must be an array');
      const allowAllFail = arg.length > 0 && arg[arg.length - 1] === null;
      const branches = allowAllFail ? arg.slice(0, -1) : arg;
      if (branches.length < 2) throw bad(path, 'try-each needs at least two sequences');
      if (branches.length > ctx.limits.maxTryEachBranches) {
        throw bad(path, `try-each has more than ${ctx.limits.maxTryEachBranches} branches`, 'PROCESSOR_LIMIT');
      }
      const sequences = branches.map((b, j) => decodeSequence(bstr(b, `${path} branch ${j}`), ctx, `${path} branch ${j}`, depth + 1));
      return { kind: 'try-each', code, sequences, allowAllFail, offset };
    }
    case CMD.SET_PARAMETERS:
    case CMD.OVERRIDE_PARAMETERS:
      return { kind: 'set-parameters', code, params: decodeParams(arg, path, ctx), offset };
    case CMD.RUN_SEQUENCE:
      return { kind: 'run-sequence', code, sequence: decodeSequence(bstr(arg, path), ctx, path, depth + 1), offset };
    case CMD.OVERRIDE_MULTIPLE: {
      // { + uint (component index) => { + SUIT_Parameters } }
      const m = intMap(arg, path);
      if (m.size === 0) throw bad(path, 'override-multiple map is empty');
      const byComponent = new Map<number, ParameterMap>();
      for (const [k, p] of m) byComponent.set(uintNumber(k, `${path} key ${k}`), decodeParams(p, `${path}[${k}]`, ctx));
      return { kind: 'override-multiple', code, byComponent, offset };
    }
    case CMD.COPY_PARAMS: {
      // { + uint (source component index) => [ + int (parameter key) ] }
      const m = intMap(arg, path);
      if (m.size === 0) throw bad(path, 'copy-params map is empty');
      const bySource = new Map<number, number[]>();
      for (const [k, list] of m) {
        const p = `${path}[${k}]`;
        uintNumber(k, p);
        if (!Array.isArray(list) || list.length === 0) throw bad(p, 'expected a non-empty array of parameter keys');
        bySource.set(
          k,
          list.map((x) => {
            if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(p, 'parameter key must be an integer');
            return x;
          }),
        );
      }
      return { kind: 'copy-params', code, bySource, offset };
    }
    default: {
      // Every other condition/directive takes SUIT_Rep_Policy (uint bits). Unknown positive commands are
      // kept (as directives) so that the processor can refuse them with COMMAND_UNSUPPORTED and a report.
      if (typeof arg !== 'number' || !Number.isInteger(arg) || arg < 0) throw bad(path, 'reporting policy must be an unsigned integer');
      return { kind: CONDITIONS.has(code) ? 'condition' : 'directive', code, policy: arg, offset };
    }
  }
}

function decodeIndexArg(arg: CborValue, path: string): IndexArg {
  // IndexArg = uint / true / [+uint]
  if (arg === true) return true;
  if (Array.isArray(arg)) {
    if (arg.length === 0) throw bad(path, 'component index array is empty');
    return arg.map((x, i) => uintNumber(x, `${path}[${i}]`));
  }
  return uintNumber(arg, path);
}

function uuid(v: CborValue, path: string, allowPen: boolean): Uint8Array | Tagged {
  if (allowPen && v instanceof Tagged && v.tag === TAG_CBOR_PEN) {
    // cbor-pen = #6.112(bstr): RFC 9090 relative OID of the Private Enterprise Number
    if (!(v.value instanceof Uint8Array) || v.value.length === 0) throw bad(path, 'CBOR PEN must be a non-empty byte string');
    return v;
  }
  if (!(v instanceof Uint8Array)) throw bad(path, 'expected a 16-byte UUID byte string');
  if (v.length !== 16) throw bad(path, `UUID must be 16 bytes, got ${v.length}`);
  return v;
}

/** SUIT_Digest inside a parameter: shape only (an unknown algorithm is the processor's business). */
function paramDigest(v: CborValue, path: string, ctx: Ctx): SuitDigest {
  const d = ctx.inner(bstr(v, path), path);
  if (!Array.isArray(d) || d.length !== 2 || typeof d[0] !== 'number' || !Number.isInteger(d[0]) || !(d[1] instanceof Uint8Array)) {
    throw bad(path, 'image digest must be bstr-wrapped [int algorithm, bstr bytes]');
  }
  try {
    if (d[1].length !== digestSize(d[0])) throw bad(path, `digest has ${d[1].length} bytes, algorithm ${d[0]} needs ${digestSize(d[0])}`);
  } catch (e) {
    if ((e as UpdateError).code !== 'DIGEST_ALGORITHM_UNSUPPORTED') throw e;
  }
  return { alg: d[0], bytes: d[1] };
}

function decodeParams(v: CborValue, path: string, ctx: Ctx): ParameterMap {
  const m = intMap(v, path);
  if (m.size === 0) throw bad(path, 'parameter map is empty');
  const out: ParameterMap = new Map();
  for (const [k, val] of m) {
    const p = `${path}.${paramName(k)}`;
    out.set(k, decodeParam(k, val, p, ctx));
  }
  return out;
}

function decodeParam(k: number, v: CborValue, p: string, ctx: Ctx): ParamValue {
  switch (k) {
    case PARAM.VENDOR_IDENTIFIER:
      return uuid(v, p, true);
    case PARAM.CLASS_IDENTIFIER:
    case PARAM.DEVICE_IDENTIFIER:
      return uuid(v, p, false);
    case PARAM.IMAGE_DIGEST:
      return paramDigest(v, p, ctx);
    case PARAM.USE_BEFORE:
    case PARAM.COMPONENT_SLOT:
    case PARAM.IMAGE_SIZE:
    case PARAM.SOURCE_COMPONENT:
    case PARAM.MINIMUM_BATTERY:
      if (!isUint(v)) throw bad(p, 'expected an unsigned integer');
      return v;
    case PARAM.UPDATE_PRIORITY:
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(p, 'expected an integer');
      return v;
    case PARAM.STRICT_ORDER:
    case PARAM.SOFT_FAILURE:
      if (typeof v !== 'boolean') throw bad(p, 'expected a boolean');
      return v;
    case PARAM.CONTENT:
    case PARAM.INVOKE_ARGS:
    case PARAM.FETCH_ARGUMENTS:
      return bstr(v, p);
    case PARAM.URI:
      if (typeof v !== 'string') throw bad(p, 'expected a text string');
      return v;
    case PARAM.ENCRYPTION_INFO:
    case PARAM.WAIT_INFO:
    case PARAM.COMPONENT_METADATA: {
      // bstr .cbor X: kept raw for the consumer (so any encoding re-encodes identically; the
      // firmware-encryption examples' COSE_Encrypt is not deterministic), but it must be one well-formed CBOR item.
      const raw = bstr(v, p);
      ctx.inner(raw, p, false, false);
      return raw;
    }
    case PARAM.VERSION:
      return decodeVersionMatch(ctx.inner(bstr(v, p), p), p);
    default:
      // custom (negative) and unknown parameters: kept as decoded for the processor to judge.
      return v;
  }
}

function decodeVersionMatch(v: CborValue, p: string): VersionMatch {
  // SUIT_Parameter_Version_Match = [ comparison-type: int, comparison-value: [ + int ] ]
  if (!Array.isArray(v) || v.length !== 2) throw bad(p, 'version match must be [comparison type, [+int]]');
  const [cmp, ver] = v;
  if (typeof cmp !== 'number' || !Number.isInteger(cmp)) throw bad(p, 'comparison type must be an integer');
  if (!Array.isArray(ver) || ver.length === 0) throw bad(p, 'version must be a non-empty array of integers');
  return {
    cmp,
    version: ver.map((x) => {
      if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(p, 'version components must be integers');
      return x;
    }),
  };
}

function decodeCommon(bytes: Uint8Array, ctx: Ctx): SuitCommon {
  const path = 'manifest.common';
  const m = intMap(ctx.inner(bytes, path), path);
  const common: SuitCommon = { components: [], bytes };
  for (const [k, v] of m) {
    switch (k) {
      case COMMON.COMPONENTS: {
        const p = `${path}.components`;
        if (!Array.isArray(v) || v.length === 0) throw bad(p, 'components must be a non-empty array');
        if (v.length > ctx.limits.maxComponents) throw bad(p, `more than ${ctx.limits.maxComponents} components`, 'PROCESSOR_LIMIT');
        common.components = v.map((c, i) => decodeComponentId(c, `${p}[${i}]`, ctx.limits));
        break;
      }
      case COMMON.DEPENDENCIES: {
        // trust-domains: { + uint (component index) => { ? 1 dependency-prefix => SUIT_Component_Identifier } }
        const p = `${path}.dependencies`;
        const deps = intMap(v, p);
        if (deps.size === 0) throw bad(p, 'dependencies map is empty');
        const out = new Map<number, { prefix?: ComponentId }>();
        for (const [idx, dv] of deps) {
          const dp = `${p}[${idx}]`;
          if (uintNumber(idx, dp) >= ctx.limits.maxComponents) throw bad(dp, `dependency index beyond ${ctx.limits.maxComponents}`, 'PROCESSOR_LIMIT');
          const dm = intMap(dv, dp);
          const entry: { prefix?: ComponentId } = {};
          for (const [dk, dval] of dm) {
            if (dk !== 1) throw bad(dp, `unknown dependency metadata key ${dk}`);
            entry.prefix = decodeComponentId(dval, `${dp}.dependency-prefix`, ctx.limits);
          }
          out.set(idx, entry);
        }
        common.dependencies = out;
        break;
      }
      case COMMON.SHARED_SEQUENCE:
        common.sharedSequence = decodeSequence(bstr(v, `${path}.shared-sequence`), ctx, 'manifest.shared-sequence', 1);
        break;
      default:
        // SUIT_Common extensions have no model field, so they could not be re-encoded: refuse them.
        throw bad(`${path}`, `unknown member ${k}`);
    }
  }
  return common;
}

function decodeText(bytes: Uint8Array, ctx: Ctx): SuitText {
  const path = 'manifest.text';
  // SUIT_Text_Map = { + tag38-ltag => SUIT_Text_LMap }
  // SUIT_Text_LMap = { * int => tstr, * SUIT_Component_Identifier => { * int => tstr } }
  const v = ctx.inner(bytes, path, true);
  if (!(v instanceof Map) || v.size === 0) throw bad(path, 'text must be a non-empty map of language tags');
  const byLanguage: SuitText['byLanguage'] = new Map();
  for (const [lang, lmap] of v) {
    if (typeof lang !== 'string' || lang.length === 0) throw bad(path, 'text map keys must be language tags (text strings)');
    const p = `${path}["${lang}"]`;
    if (!(lmap instanceof Map)) throw bad(p, 'expected a map');
    const keys = new Map<number, string>();
    const components: { id: ComponentId; keys: Map<number, string> }[] = [];
    for (const [k, val] of lmap) {
      if (typeof k === 'number' && Number.isInteger(k)) {
        if (typeof val !== 'string') throw bad(`${p}[${k}]`, 'text value must be a text string');
        keys.set(k, val);
      } else if (Array.isArray(k)) {
        const id = decodeComponentId(k, `${p} component key`, ctx.limits);
        const cp = `${p}[component]`;
        const cm = intMap(val, cp);
        const ck = new Map<number, string>();
        for (const [kk, s] of cm) {
          if (typeof s !== 'string') throw bad(`${cp}[${kk}]`, 'text value must be a text string');
          ck.set(kk, s);
        }
        components.push({ id, keys: ck });
      } else {
        throw bad(p, `text key ${String(k)} is neither an integer nor a component identifier`);
      }
    }
    byLanguage.set(lang, { keys, components });
  }
  return { byLanguage, bytes };
}

function severable<T>(v: CborValue, key: number, ctx: Ctx, decodePresent: (b: Uint8Array) => T): Severable<T> {
  const path = `manifest.${manifestMemberName(key)}`;
  // A severed member is a bare SUIT_Digest array; a present one is a bstr (draft §8.4.x / reference §1.8).
  if (Array.isArray(v)) return { severed: digestFromCbor(v, path, 'MANIFEST_MALFORMED') };
  return { present: decodePresent(bstr(v, path)) };
}

/** Decode the members of an already-decoded SUIT_Manifest map (the content of envelope key 3). */
export function manifestFromCbor(v: CborValue, bytes: Uint8Array, opts: DecodeManifestOptions = {}): SuitManifest {
  const ctx = new Ctx(opts);
  const m = intMap(v, 'manifest');
  // §6.1 step 1: check the manifest version before anything else.
  const version = m.get(MAN.VERSION);
  if (version === undefined) throw bad('manifest', 'manifest-version (1) is missing');
  if (version !== 1) {
    throw new UpdateError('MANIFEST_VERSION_UNSUPPORTED', `manifest-version is ${String(version)}; only 1 is supported`, {
      details: { version: String(version) },
    });
  }
  const seq = m.get(MAN.SEQUENCE_NUMBER);
  if (seq === undefined) throw bad('manifest', 'manifest-sequence-number (2) is missing');
  if (!isUint(seq)) throw bad('manifest.sequence-number', 'expected an unsigned integer');
  const commonV = m.get(MAN.COMMON);
  if (commonV === undefined) throw bad('manifest', 'common (3) is missing');
  const common = decodeCommon(bstr(commonV, 'manifest.common'), ctx);
  const out: SuitManifest = { version: 1, sequenceNumber: seq, common, extensions: new Map(), bytes };
  const seqOf = (key: number) => (b: Uint8Array) => decodeSequence(b, ctx, `manifest.${manifestMemberName(key)}`, 1);
  for (const [k, val] of m) {
    const path = `manifest.${manifestMemberName(k)}`;
    switch (k) {
      case MAN.VERSION:
      case MAN.SEQUENCE_NUMBER:
      case MAN.COMMON:
        break;
      case MAN.REFERENCE_URI:
        if (typeof val !== 'string') throw bad(path, 'expected a text string');
        out.referenceUri = val;
        break;
      case MAN.MANIFEST_COMPONENT_ID:
        out.manifestComponentId = decodeComponentId(val, path, ctx.limits);
        break;
      case MAN.SET_VERSION: {
        // update-management: bstr .cbor [ + int ]
        const sv = ctx.inner(bstr(val, path), path);
        if (!Array.isArray(sv) || sv.length === 0) throw bad(path, 'expected a non-empty array of integers');
        out.setVersion = sv.map((x) => {
          if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(path, 'version components must be integers');
          return x;
        });
        break;
      }
      case MAN.VALIDATE:
      case MAN.LOAD:
      case MAN.INVOKE:
      case MAN.UNINSTALL: {
        // Unseverable members: always a bstr-wrapped sequence.
        if (Array.isArray(val)) throw bad(path, 'this member cannot be severed');
        const s = seqOf(k)(bstr(val, path));
        if (k === MAN.VALIDATE) out.validate = s;
        else if (k === MAN.LOAD) out.load = s;
        else if (k === MAN.INVOKE) out.invoke = s;
        else out.uninstall = s;
        break;
      }
      case MAN.DEPENDENCY_RESOLUTION:
        out.dependencyResolution = severable(val, k, ctx, seqOf(k));
        break;
      case MAN.PAYLOAD_FETCH:
        out.payloadFetch = severable(val, k, ctx, seqOf(k));
        break;
      case MAN.CANDIDATE_VERIFICATION:
        out.candidateVerification = severable(val, k, ctx, seqOf(k));
        break;
      case MAN.INSTALL:
        out.install = severable(val, k, ctx, seqOf(k));
        break;
      case MAN.TEXT:
        out.text = severable(val, k, ctx, (b) => decodeText(b, ctx));
        break;
      case MAN.COSWID:
        // bstr .cbor concise-swid-tag: must be well-formed CBOR; its schema (RFC 9393) is not checked here.
        out.coswid = severable(val, k, ctx, (b) => (ctx.inner(b, path, false, false), b));
        break;
      default:
        // $$SUIT_Manifest_Extensions: kept for re-encoding; the processor decides whether it may ignore them.
        out.extensions.set(k, val);
    }
  }
  return out;
}

/** Decode a SUIT_Manifest from its encoded map (the content of envelope key 3). */
export function decodeManifest(bytes: Uint8Array, opts: DecodeManifestOptions = {}): SuitManifest {
  if (!(bytes instanceof Uint8Array)) throw new UpdateError('MANIFEST_MALFORMED', 'manifest is not a byte array');
  const ctx = new Ctx(opts);
  // Limit before decoding: a standalone manifest is bounded like the envelope that would carry it.
  if (bytes.length > ctx.limits.maxEnvelopeBytes) {
    throw new UpdateError('INPUT_TOO_LARGE', `manifest is ${bytes.length} bytes; the limit is ${ctx.limits.maxEnvelopeBytes}`, {
      details: { size: bytes.length, limit: ctx.limits.maxEnvelopeBytes },
    });
  }
  const v = ctx.inner(bytes, 'manifest');
  return manifestFromCbor(v, bytes, opts);
}

/** Decode one severed member's content (the bytes inside its envelope bstr) into its model type. */
export function decodeSeveredContent(key: number, content: Uint8Array, opts: DecodeManifestOptions = {}): CommandSequence | SuitText | Uint8Array {
  const ctx = new Ctx(opts);
  const path = `envelope.${manifestMemberName(key)}`;
  if (key === MAN.TEXT) return decodeText(content, ctx);
  if (key === MAN.COSWID) {
    ctx.inner(content, path, false, false);
    return content;
  }
  return decodeSequence(content, ctx, path, 1);
}

/** Exposed for the processor and summaries: decode a standalone command sequence (bstr content). */
export function decodeCommandSequence(bytes: Uint8Array, opts: DecodeManifestOptions = {}): CommandSequence {
  return decodeSequence(bytes, new Ctx(opts), 'sequence', 1);
}

// ------------------------------------------------------------------------------------------ encoding

function enc(v: CborValue): Uint8Array {
  return encodeCbor(v);
}

function commandsOf(s: SequenceInput): readonly CommandInput[] {
  return Array.isArray(s) ? (s as readonly CommandInput[]) : (s as { commands: readonly CommandInput[] }).commands;
}

/** Encode a command sequence (the content of its bstr) from its commands. */
export function encodeSequence(s: SequenceInput): Uint8Array {
  const cmds = commandsOf(s);
  if (cmds.length === 0) throw new UpdateError('MANIFEST_MALFORMED', 'a command sequence must hold at least one command');
  const items: CborValue[] = [];
  for (const c of cmds) items.push(...commandToCbor(c));
  return enc(items);
}

function commandToCbor(c: CommandInput): [CborValue, CborValue] {
  switch (c.kind) {
    case 'condition':
    case 'directive':
      return [c.code, c.policy];
    case 'set-component-index':
      return [CMD.SET_COMPONENT_INDEX, Array.isArray(c.index) ? [...c.index] : c.index];
    case 'set-parameters':
      return [c.code, paramsToCbor(c.params)];
    case 'try-each': {
      const arr: CborValue[] = c.sequences.map(encodeSequence);
      if (c.allowAllFail) arr.push(null);
      return [CMD.TRY_EACH, arr];
    }
    case 'run-sequence':
      return [CMD.RUN_SEQUENCE, encodeSequence(c.sequence)];
    case 'override-multiple':
      return [CMD.OVERRIDE_MULTIPLE, new Map<CborKey, CborValue>([...c.byComponent].map(([k, p]) => [k, paramsToCbor(p)]))];
    case 'copy-params':
      return [CMD.COPY_PARAMS, new Map<CborKey, CborValue>([...c.bySource].map(([k, l]) => [k, [...l]]))];
    case 'custom':
      return [c.code, c.arg];
  }
}

function paramsToCbor(p: ParameterMap): Map<CborKey, CborValue> {
  const out = new Map<CborKey, CborValue>();
  for (const [k, v] of p) out.set(k, paramToCbor(k, v));
  return out;
}

function paramToCbor(k: number, v: ParamValue): CborValue {
  switch (k) {
    case PARAM.IMAGE_DIGEST:
      return enc(digestToCbor(v as SuitDigest));
    case PARAM.VERSION: {
      const vm = v as VersionMatch;
      return enc([vm.cmp, [...vm.version]]);
    }
    default:
      // bstr-wrapped raw parameters (19, 29, 30) are kept as their content bytes: a Uint8Array → bstr.
      return v as CborValue;
  }
}

function componentIdToCbor(id: ComponentId): CborValue {
  return [...id];
}

function commonToCbor(c: ManifestInput['common']): Uint8Array {
  const m = new Map<CborKey, CborValue>();
  if (c.dependencies && c.dependencies.size > 0) {
    m.set(
      COMMON.DEPENDENCIES,
      new Map<CborKey, CborValue>(
        [...c.dependencies].map(([idx, d]) => [idx, new Map<CborKey, CborValue>(d.prefix ? [[1, componentIdToCbor(d.prefix)]] : [])]),
      ),
    );
  }
  if (c.components.length > 0) m.set(COMMON.COMPONENTS, c.components.map(componentIdToCbor));
  if (c.sharedSequence) m.set(COMMON.SHARED_SEQUENCE, encodeSequence(c.sharedSequence));
  return enc(m);
}

/** Encode a SUIT_Text_Map (the content of its bstr). */
export function encodeText(t: TextInput): Uint8Array {
  const m = new Map<CborKey, CborValue>();
  for (const [lang, l] of t.byLanguage) {
    const lm = new Map<CborKey, CborValue>();
    for (const [k, s] of l.keys) lm.set(k, s);
    for (const c of l.components) lm.set([...c.id], new Map<CborKey, CborValue>([...c.keys]));
    m.set(lang, lm);
  }
  return enc(m);
}

function severableToCbor<T>(s: SeverableInput<T>, present: (x: T) => Uint8Array): CborValue {
  return 'severed' in s ? digestToCbor(s.severed) : present(s.present);
}

/** The SUIT_Manifest as a CBOR map (bstr-wrapped members already encoded). */
export function manifestToCbor(m: ManifestInput): Map<CborKey, CborValue> {
  const out = new Map<CborKey, CborValue>();
  out.set(MAN.VERSION, 1);
  out.set(MAN.SEQUENCE_NUMBER, m.sequenceNumber);
  out.set(MAN.COMMON, commonToCbor(m.common));
  if (m.referenceUri !== undefined) out.set(MAN.REFERENCE_URI, m.referenceUri);
  if (m.manifestComponentId) out.set(MAN.MANIFEST_COMPONENT_ID, componentIdToCbor(m.manifestComponentId));
  if (m.setVersion) out.set(MAN.SET_VERSION, enc([...m.setVersion]));
  if (m.validate) out.set(MAN.VALIDATE, encodeSequence(m.validate));
  if (m.load) out.set(MAN.LOAD, encodeSequence(m.load));
  if (m.invoke) out.set(MAN.INVOKE, encodeSequence(m.invoke));
  if (m.coswid) out.set(MAN.COSWID, severableToCbor(m.coswid, (b) => b));
  if (m.dependencyResolution) out.set(MAN.DEPENDENCY_RESOLUTION, severableToCbor(m.dependencyResolution, encodeSequence));
  if (m.payloadFetch) out.set(MAN.PAYLOAD_FETCH, severableToCbor(m.payloadFetch, encodeSequence));
  if (m.candidateVerification) out.set(MAN.CANDIDATE_VERIFICATION, severableToCbor(m.candidateVerification, encodeSequence));
  if (m.install) out.set(MAN.INSTALL, severableToCbor(m.install, encodeSequence));
  if (m.text) out.set(MAN.TEXT, severableToCbor(m.text, encodeText));
  if (m.uninstall) out.set(MAN.UNINSTALL, encodeSequence(m.uninstall));
  for (const [k, v] of m.extensions ?? []) {
    if (out.has(k)) throw new UpdateError('MANIFEST_MALFORMED', `extension key ${k} collides with a modelled manifest member`);
    out.set(k, v);
  }
  return out;
}

/** Deterministic encoding of a manifest model (the content of envelope key 3). */
export function encodeManifest(m: ManifestInput): Uint8Array {
  return enc(manifestToCbor(m));
}
