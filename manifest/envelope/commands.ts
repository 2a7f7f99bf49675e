/**
 * SUIT_Command_Sequence codec (draft-ietf-suit-manifest-37 §8.4.6–§8.4.10, trust-domains §6,
 * update-management §4): commands with their arguments, SUIT_Parameters and version matches. Decoding
 * keeps each command's byte offset (reports name it); encoding works from `commands`, never from kept bytes.
 */
import { encodeCbor, Tagged, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { CMD, CONDITIONS, PARAM, TAG_CBOR_PEN } from '../keys.js';
import type { Command, CommandSequence, IndexArg, ParameterMap, ParamValue, SuitDigest, VersionMatch } from '../model.js';
import { bad, bstr, Ctx, intMap, isInt, isUint, uintNumber, type DecodeManifestOptions } from './decode-context.js';
import { digestToCbor, digestSize } from './digest.js';
import { commandName, paramName } from './names.js';

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
export function decodeSequence(bytes: Uint8Array, ctx: Ctx, path: string, depth: number): CommandSequence {
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

/** Exposed for the processor and summaries: decode a standalone command sequence (bstr content). */
export function decodeCommandSequence(bytes: Uint8Array, opts: DecodeManifestOptions = {}): CommandSequence {
  return decodeSequence(bytes, new Ctx(opts), 'sequence', 1);
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
  return encodeCbor(items);
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
      return encodeCbor(digestToCbor(v as SuitDigest));
    case PARAM.VERSION: {
      const vm = v as VersionMatch;
      return encodeCbor([vm.cmp, [...vm.version]]);
    }
    default:
      // bstr-wrapped raw parameters (19, 29, 30) are kept as their content bytes: a Uint8Array → bstr.
      return v as CborValue;
  }
}
