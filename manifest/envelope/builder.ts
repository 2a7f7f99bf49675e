/**
 * Building SUIT manifests from code (the signing CLI, tests, the demo).
 *
 * Two levels:
 *
 * 1. `buildManifest(spec)` — give the components and get the draft's usual sequences by default
 *    (Example 1 shape):
 *
 *    ```ts
 *    const built = buildManifest({
 *      sequenceNumber: 7,
 *      components: [{
 *        id: [new Uint8Array([0])],                      // or ['app'] (UTF-8 segments)
 *        vendorId: vendorIdFromDomain('example.com'),    // or a UUID string
 *        classId: classIdFrom(vendorIdFromDomain('example.com'), 'model-x rev 2'),
 *        imageDigest: computeDigest(-16, image),
 *        imageSize: image.length,
 *        uri: 'https://updates.example.com/fw-7.bin',  // → install: fetch + image-match
 *      }],
 *      text: { manifestDescription: 'Release 7' },
 *      severText: true,
 *      version: [1, 2, 0],
 *    });
 *    const env = built.envelope();          // unsigned SuitEnvelope (digest computed): sign it with manifest/cose
 *    ```
 *
 *    Defaults: shared sequence = per component [set-component-index i,] override-parameters
 *    {vendor, class, image-digest, image-size, slot?} + vendor/class conditions (policy 15);
 *    install = override {uri} + fetch (2) + image-match (15) for components with a `uri`
 *    (payloadFetch instead when `fetchInPayloadFetch`); validate = image-match (15) per component.
 *    Pass any sequence explicitly to replace its default, or `false` to leave it out.
 *
 * 2. Sequence constructors for writing sequences by hand:
 *    `seq(setIndex(0), overrideParams({ uri: 'https://…' }), dir(CMD.FETCH), cond(CMD.IMAGE_MATCH))`,
 *    `tryEach([seq(...), seq(...)], { allowAllFail: true })`, `runSequence(seq(...))`,
 *    `overrideMultiple({ 0: {...}, 1: {...} })`, `copyParams({ 0: [PARAM.URI] })`, `custom(-300, h)`.
 */
import { encodeCbor, Tagged, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { CMD, CONDITIONS, MAN, PARAM, TAG_CBOR_PEN, TEXT, TEXT_COMPONENT } from '../keys.js';
import type { ComponentId, IndexArg, ParameterMap, ParamValue, SuitDigest, SuitEnvelope, SuitManifest, VersionMatch } from '../model.js';
import { computeDigest } from './digest.js';
import { buildEnvelope } from './envelope.js';
import { decodeManifest, encodeManifest, encodeSequence, encodeText, type CommandInput, type ManifestInput, type SequenceInput, type TextInput } from './manifest.js';
import { parseUuid } from './uuid.js';

const utf8 = new TextEncoder();

// ------------------------------------------------------------------------------ sequence constructors

/** A command sequence from commands (arrays are flattened, so helpers returning several commands compose). */
export function seq(...cmds: (CommandInput | readonly CommandInput[])[]): CommandInput[] {
  return cmds.flat() as CommandInput[];
}

/** A condition with a reporting policy (default 15 = record + sysinfo on success and failure). */
export function cond(code: number, policy = 15): CommandInput {
  if (!CONDITIONS.has(code)) throw new UpdateError('USAGE', `${code} is not a condition`);
  return { kind: 'condition', code, policy };
}

/** A policy-argument directive (fetch, copy, write, swap, invoke, process-dependency, unlink, wait); default policy 2 (record on failure). */
export function dir(code: number, policy = 2): CommandInput {
  if (CONDITIONS.has(code) || [CMD.SET_COMPONENT_INDEX, CMD.TRY_EACH, CMD.SET_PARAMETERS, CMD.OVERRIDE_PARAMETERS, CMD.RUN_SEQUENCE, CMD.OVERRIDE_MULTIPLE, CMD.COPY_PARAMS].includes(code as never)) {
    throw new UpdateError('USAGE', `${code} is not a policy directive; use its own constructor`);
  }
  return { kind: 'directive', code, policy };
}

export function setIndex(index: IndexArg): CommandInput {
  return { kind: 'set-component-index', code: 12, index };
}

/**
 * Parameters by friendly name or number. UUIDs may be strings; `imageDigest` a SuitDigest;
 * `version` a VersionMatch; `encryptionInfo`/`waitInfo`/`componentMetadata` the encoded CBOR bytes.
 */
export interface ParamsSpec {
  vendorId?: Uint8Array | string | Tagged;
  classId?: Uint8Array | string;
  deviceId?: Uint8Array | string;
  imageDigest?: SuitDigest;
  useBefore?: number | bigint;
  slot?: number;
  strictOrder?: boolean;
  softFailure?: boolean;
  imageSize?: number | bigint;
  content?: Uint8Array;
  encryptionInfo?: Uint8Array;
  uri?: string;
  sourceComponent?: number;
  invokeArgs?: Uint8Array;
  fetchArgs?: Uint8Array;
  minimumBattery?: number;
  updatePriority?: number;
  version?: VersionMatch;
  waitInfo?: Uint8Array;
  componentMetadata?: Uint8Array;
  /** Any other parameter by number (custom negative ones included). */
  other?: Map<number, ParamValue>;
}

const PARAM_FIELDS: [keyof ParamsSpec, number][] = [
  ['vendorId', PARAM.VENDOR_IDENTIFIER],
  ['classId', PARAM.CLASS_IDENTIFIER],
  ['imageDigest', PARAM.IMAGE_DIGEST],
  ['useBefore', PARAM.USE_BEFORE],
  ['slot', PARAM.COMPONENT_SLOT],
  ['strictOrder', PARAM.STRICT_ORDER],
  ['softFailure', PARAM.SOFT_FAILURE],
  ['imageSize', PARAM.IMAGE_SIZE],
  ['content', PARAM.CONTENT],
  ['encryptionInfo', PARAM.ENCRYPTION_INFO],
  ['uri', PARAM.URI],
  ['sourceComponent', PARAM.SOURCE_COMPONENT],
  ['invokeArgs', PARAM.INVOKE_ARGS],
  ['deviceId', PARAM.DEVICE_IDENTIFIER],
  ['fetchArgs', PARAM.FETCH_ARGUMENTS],
  ['minimumBattery', PARAM.MINIMUM_BATTERY],
  ['updatePriority', PARAM.UPDATE_PRIORITY],
  ['version', PARAM.VERSION],
  ['waitInfo', PARAM.WAIT_INFO],
  ['componentMetadata', PARAM.COMPONENT_METADATA],
];

function uuidBytes(v: Uint8Array | string, what: string): Uint8Array {
  const b = typeof v === 'string' ? parseUuid(v) : v;
  if (!(b instanceof Uint8Array) || b.length !== 16) throw new UpdateError('USAGE', `${what} must be a 16-byte UUID`);
  return b;
}

/** ParamsSpec (or a ready ParameterMap) → ParameterMap. */
export function params(spec: ParamsSpec | ParameterMap): ParameterMap {
  if (spec instanceof Map) return spec;
  const out: ParameterMap = new Map();
  for (const [field, key] of PARAM_FIELDS) {
    const v = spec[field];
    if (v === undefined) continue;
    if (field === 'vendorId' && v instanceof Tagged) {
      if (v.tag !== TAG_CBOR_PEN) throw new UpdateError('USAGE', 'a tagged vendorId must be a CBOR PEN (tag 112)');
      out.set(key, v);
    } else if (field === 'vendorId' || field === 'classId' || field === 'deviceId') out.set(key, uuidBytes(v as Uint8Array | string, field));
    else out.set(key, v as ParamValue);
  }
  for (const [k, v] of spec.other ?? []) out.set(k, v);
  if (out.size === 0) throw new UpdateError('USAGE', 'a parameter map needs at least one parameter');
  return out;
}

/** override-parameters (20): always sets. */
export function overrideParams(spec: ParamsSpec | ParameterMap): CommandInput {
  return { kind: 'set-parameters', code: 20, params: params(spec) };
}

/** set-parameters (19, trust-domains): sets only what is unset. */
export function setParams(spec: ParamsSpec | ParameterMap): CommandInput {
  return { kind: 'set-parameters', code: 19, params: params(spec) };
}

export function tryEach(sequences: SequenceInput[], opts: { allowAllFail?: boolean } = {}): CommandInput {
  if (sequences.length < 2) throw new UpdateError('USAGE', 'try-each needs at least two sequences');
  return { kind: 'try-each', code: 15, sequences, allowAllFail: opts.allowAllFail ?? false };
}

export function runSequence(sequence: SequenceInput): CommandInput {
  return { kind: 'run-sequence', code: 32, sequence };
}

export function overrideMultiple(byComponent: Record<number, ParamsSpec | ParameterMap> | Map<number, ParamsSpec | ParameterMap>): CommandInput {
  const entries = byComponent instanceof Map ? [...byComponent] : Object.entries(byComponent).map(([k, v]) => [Number(k), v] as const);
  return { kind: 'override-multiple', code: 34, byComponent: new Map(entries.map(([k, v]) => [k, params(v)])) };
}

export function copyParams(bySource: Record<number, number[]> | Map<number, number[]>): CommandInput {
  const entries = bySource instanceof Map ? [...bySource] : Object.entries(bySource).map(([k, v]) => [Number(k), v] as const);
  return { kind: 'copy-params', code: 35, bySource: new Map(entries) };
}

/** Custom command (negative number; ≤ -256 is private use). */
export function custom(code: number, arg: Uint8Array | string | number | null): CommandInput {
  if (!Number.isInteger(code) || code >= 0) throw new UpdateError('USAGE', 'custom commands have negative numbers');
  return { kind: 'custom', code, arg: arg as CborValue };
}

// ------------------------------------------------------------------------------ whole manifests

export interface ComponentSpec {
  /** Component identifier: byte strings, or strings taken as UTF-8. */
  id: (Uint8Array | string)[];
  vendorId?: Uint8Array | string;
  classId?: Uint8Array | string;
  imageDigest?: SuitDigest;
  imageSize?: number | bigint;
  uri?: string;
  slot?: number;
  /** Extra parameters set in the shared sequence for this component. */
  params?: ParamsSpec;
}

/** Friendly text (one language). Component keys by component index. */
export interface SimpleText {
  lang?: string;
  manifestDescription?: string;
  updateDescription?: string;
  manifestJsonSource?: string;
  manifestYamlSource?: string;
  components?: Record<number, { vendorName?: string; modelName?: string; vendorDomain?: string; modelInfo?: string; description?: string; version?: string }>;
}

export interface ManifestSpec {
  sequenceNumber: number | bigint;
  components: ComponentSpec[];
  referenceUri?: string;
  /** update-management set-version, e.g. [1, 2, 0]. */
  version?: number[];
  manifestComponentId?: (Uint8Array | string)[];
  dependencies?: Map<number, { prefix?: (Uint8Array | string)[] }>;
  /** Give a sequence to replace the default; `false` to omit a defaulted one. */
  sharedSequence?: SequenceInput | false;
  payloadFetch?: SequenceInput | false;
  install?: SequenceInput | false;
  validate?: SequenceInput | false;
  load?: SequenceInput;
  invoke?: SequenceInput;
  dependencyResolution?: SequenceInput;
  candidateVerification?: SequenceInput;
  uninstall?: SequenceInput;
  /** Put the default fetch (uri + fetch + image-match) in payload-fetch instead of install; install then has no default. */
  fetchInPayloadFetch?: boolean;
  text?: SimpleText | TextInput;
  coswid?: Uint8Array;
  severText?: boolean;
  severInstall?: boolean;
  severPayloadFetch?: boolean;
  severCoswid?: boolean;
  severDependencyResolution?: boolean;
  severCandidateVerification?: boolean;
  /** Digest algorithm for severed-member digests. Default -16. */
  digestAlg?: number;
  extensions?: Map<number, CborValue>;
}

export interface BuiltManifest {
  /** The manifest model, decoded back from `bytes` (so offsets and kept bytes are real). */
  manifest: SuitManifest;
  /** Encoded SUIT_Manifest (content of envelope key 3). */
  bytes: Uint8Array;
  /** Severed members: key → content (what buildEnvelope takes). */
  severed: Map<number, Uint8Array>;
  /** An unsigned envelope with the manifest digest computed (default SHA-256). */
  envelope(opts?: { digestAlg?: number; integrated?: Map<string, Uint8Array>; tagged?: boolean }): SuitEnvelope;
}

function componentId(id: (Uint8Array | string)[]): ComponentId {
  return id.map((s) => (typeof s === 'string' ? utf8.encode(s) : s));
}

function isTextInput(t: SimpleText | TextInput): t is TextInput {
  return (t as TextInput).byLanguage instanceof Map;
}

function textFrom(t: SimpleText, components: ComponentId[]): TextInput {
  const keys = new Map<number, string>();
  if (t.manifestDescription !== undefined) keys.set(TEXT.MANIFEST_DESCRIPTION, t.manifestDescription);
  if (t.updateDescription !== undefined) keys.set(TEXT.UPDATE_DESCRIPTION, t.updateDescription);
  if (t.manifestJsonSource !== undefined) keys.set(TEXT.MANIFEST_JSON_SOURCE, t.manifestJsonSource);
  if (t.manifestYamlSource !== undefined) keys.set(TEXT.MANIFEST_YAML_SOURCE, t.manifestYamlSource);
  const comps: { id: ComponentId; keys: Map<number, string> }[] = [];
  for (const [i, c] of Object.entries(t.components ?? {})) {
    const id = components[Number(i)];
    // draft §8.4.4: every component id used in text MUST appear in suit-common.
    if (!id) throw new UpdateError('USAGE', `text for component ${i}, which does not exist`);
    const ck = new Map<number, string>();
    if (c.vendorName !== undefined) ck.set(TEXT_COMPONENT.VENDOR_NAME, c.vendorName);
    if (c.modelName !== undefined) ck.set(TEXT_COMPONENT.MODEL_NAME, c.modelName);
    if (c.vendorDomain !== undefined) ck.set(TEXT_COMPONENT.VENDOR_DOMAIN, c.vendorDomain);
    if (c.modelInfo !== undefined) ck.set(TEXT_COMPONENT.MODEL_INFO, c.modelInfo);
    if (c.description !== undefined) ck.set(TEXT_COMPONENT.COMPONENT_DESCRIPTION, c.description);
    if (c.version !== undefined) ck.set(TEXT_COMPONENT.COMPONENT_VERSION, c.version);
    comps.push({ id, keys: ck });
  }
  return { byLanguage: new Map([[t.lang ?? 'en', { keys, components: comps }]]) };
}

/** The default sequences described at the top of this file. */
function defaults(spec: ManifestSpec): { shared?: CommandInput[]; fetch?: CommandInput[]; validate?: CommandInput[] } {
  const many = spec.components.length > 1;
  const shared: CommandInput[] = [];
  const fetch: CommandInput[] = [];
  const validate: CommandInput[] = [];
  spec.components.forEach((c, i) => {
    const idx = many ? [setIndex(i)] : [];
    const p: ParamsSpec = { ...c.params };
    if (c.vendorId !== undefined) p.vendorId = c.vendorId;
    if (c.classId !== undefined) p.classId = c.classId;
    if (c.imageDigest !== undefined) p.imageDigest = c.imageDigest;
    if (c.imageSize !== undefined) p.imageSize = c.imageSize;
    if (c.slot !== undefined) p.slot = c.slot;
    if (Object.keys(p).length > 0) {
      shared.push(...idx, overrideParams(p));
      if (c.vendorId !== undefined) shared.push(cond(CMD.VENDOR_IDENTIFIER));
      if (c.classId !== undefined) shared.push(cond(CMD.CLASS_IDENTIFIER));
    }
    if (c.uri !== undefined) {
      fetch.push(...idx, overrideParams({ uri: c.uri }), dir(CMD.FETCH));
      if (c.imageDigest) fetch.push(cond(CMD.IMAGE_MATCH));
    }
    if (c.imageDigest) validate.push(...idx, cond(CMD.IMAGE_MATCH));
  });
  return {
    ...(shared.length ? { shared } : {}),
    ...(fetch.length ? { fetch } : {}),
    ...(validate.length ? { validate } : {}),
  };
}

/** Build a manifest from a spec (see the top of this file). Throws USAGE for an inconsistent spec. */
export function buildManifest(spec: ManifestSpec): BuiltManifest {
  if (spec.components.length === 0) throw new UpdateError('USAGE', 'a manifest needs at least one component');
  const components = spec.components.map((c) => componentId(c.id));
  const d = defaults(spec);
  const pick = (given: SequenceInput | false | undefined, dflt: CommandInput[] | undefined): SequenceInput | undefined =>
    given === false ? undefined : (given ?? dflt);
  const digestAlg = spec.digestAlg ?? -16;
  const severed = new Map<number, Uint8Array>();
  /** Either the member itself or, when severed, its digest (over the bstr-wrapped content) + the content kept aside. */
  const maybeSever = <T>(key: number, value: T | undefined, sever: boolean | undefined, encode: (v: T) => Uint8Array) => {
    if (value === undefined) return undefined;
    if (!sever) return { present: value };
    const content = encode(value);
    severed.set(key, content);
    return { severed: computeDigest(digestAlg, encodeCbor(content)) };
  };

  const input: ManifestInput = {
    sequenceNumber: spec.sequenceNumber,
    common: { components },
    extensions: spec.extensions ?? new Map(),
  };
  if (spec.dependencies) {
    input.common.dependencies = new Map(
      [...spec.dependencies].map(([i, dep]) => [i, dep.prefix ? { prefix: componentId(dep.prefix) } : {}]),
    );
  }
  const shared = pick(spec.sharedSequence, d.shared);
  if (shared) input.common.sharedSequence = shared;
  if (spec.referenceUri !== undefined) input.referenceUri = spec.referenceUri;
  if (spec.manifestComponentId) input.manifestComponentId = componentId(spec.manifestComponentId);
  if (spec.version) input.setVersion = spec.version;
  const validate = pick(spec.validate, d.validate);
  if (validate) input.validate = validate;
  if (spec.load) input.load = spec.load;
  if (spec.invoke) input.invoke = spec.invoke;
  if (spec.uninstall) input.uninstall = spec.uninstall;
  const payloadFetch = pick(spec.payloadFetch, spec.fetchInPayloadFetch ? d.fetch : undefined);
  const install = pick(spec.install, spec.fetchInPayloadFetch ? undefined : d.fetch);
  const dr = maybeSever(MAN.DEPENDENCY_RESOLUTION, spec.dependencyResolution, spec.severDependencyResolution, encodeSequence);
  if (dr) input.dependencyResolution = dr;
  const pf = maybeSever(MAN.PAYLOAD_FETCH, payloadFetch, spec.severPayloadFetch, encodeSequence);
  if (pf) input.payloadFetch = pf;
  const cv = maybeSever(MAN.CANDIDATE_VERIFICATION, spec.candidateVerification, spec.severCandidateVerification, encodeSequence);
  if (cv) input.candidateVerification = cv;
  const inst = maybeSever(MAN.INSTALL, install, spec.severInstall, encodeSequence);
  if (inst) input.install = inst;
  if (spec.text) {
    const t = isTextInput(spec.text) ? spec.text : textFrom(spec.text, components);
    const tx = maybeSever(MAN.TEXT, t, spec.severText, encodeText);
    if (tx) input.text = tx;
  }
  const cw = maybeSever(MAN.COSWID, spec.coswid, spec.severCoswid, (b) => b);
  if (cw) input.coswid = cw;

  const bytes = encodeManifest(input);
  // Decode back: validates the result against the same rules as received manifests.
  const manifest = decodeManifest(bytes);
  return {
    manifest,
    bytes,
    severed,
    envelope: (o = {}) =>
      buildEnvelope({
        manifest: bytes,
        severed,
        ...(o.integrated ? { integrated: o.integrated } : {}),
        digestAlg: o.digestAlg ?? digestAlg,
        ...(o.tagged !== undefined ? { tagged: o.tagged } : {}),
      }),
  };
}
