/**
 * `summarizeEnvelope(env)`: the JSON view of an envelope (`suit-sign inspect --json`, the server's
 * release view). Purely descriptive: no signature is verified here (the signature list comes from
 * parsing each auth block's headers), and severed members are shown only when their copy matches.
 * Never throws for a decoded envelope: anything odd is shown, not raised.
 */
import { decodeCbor, Tagged, toHex, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { PARAM, TAG_COSE_MAC, TAG_COSE_MAC0, TAG_COSE_SIGN, TAG_COSE_SIGN1, TEXT, TEXT_COMPONENT } from '../keys.js';
import type { Command, CommandSequence, ParameterMap, ParamValue, SuitDigest, SuitEnvelope, SuitManifest, SuitText, VersionMatch } from '../model.js';
import { digestAlgName } from './digest.js';
import { getSevered } from './envelope.js';
import { commandName, manifestMemberName, paramName } from './names.js';
import { uuidToString } from './uuid.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface StepSummary {
  offset: number;
  command: number;
  name: string;
  arg: Json;
}

export interface ComponentSummary {
  index: number;
  /** Component identifier segments, hex. */
  id: string[];
  vendorId?: string;
  classId?: string;
  imageDigest?: { alg: number; hex: string };
  imageSize?: number | string;
  uri?: string;
  slot?: number | string;
}

export interface SignatureSummary {
  kind: 'Sign1' | 'Sign' | 'Mac0' | 'Mac' | 'unknown';
  alg?: number;
  kid?: string;
}

export interface EnvelopeSummary {
  tagged: boolean;
  digest: { alg: number; algName: string; hex: string };
  sequenceNumber: number | string;
  referenceUri?: string;
  vendorId?: string;
  classId?: string;
  components: ComponentSummary[];
  /** update-management set-version, e.g. "1.2.0-rc.3". */
  version?: string;
  sequences: Record<string, StepSummary[]>;
  text?: Record<string, Json>;
  signatures: SignatureSummary[];
  /** Members severed from the manifest: whether the envelope carries them and their digest. */
  severed: { key: number; name: string; carried: boolean; digest: { alg: number; hex: string } }[];
  integrated: { key: string; size: number }[];
  /** Manifest members this implementation does not model. */
  extensions?: number[];
}

const textKeyNames = new Map<number, string>(Object.entries(TEXT).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]));
const textComponentKeyNames = new Map<number, string>(Object.entries(TEXT_COMPONENT).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]));

function digestJson(d: SuitDigest): { alg: number; hex: string } {
  return { alg: d.alg, hex: toHex(d.bytes) };
}

function num(v: number | bigint): number | string {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Version as SemVer-ish text: [1,2,-1,3] → "1.2-rc.3" (update-management §4.2.3 encoding). */
export function formatVersion(v: readonly number[]): string {
  const markers: Record<number, string> = { [-1]: 'rc', [-2]: 'beta', [-3]: 'alpha' };
  const i = v.findIndex((x) => x < 0);
  if (i < 0) return v.join('.');
  const pre = markers[v[i]!] ?? `pre${v[i]}`;
  const rest = v.slice(i + 1);
  return `${v.slice(0, i).join('.')}-${[pre, ...rest].join('.')}`;
}

function cborJson(v: CborValue): Json {
  if (v === undefined) return null;
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (v instanceof Tagged) return { tag: v.tag, value: cborJson(v.value) };
  if (Array.isArray(v)) return v.map(cborJson);
  if (v instanceof Map) {
    const o: Record<string, Json> = {};
    for (const [k, x] of v) o[Array.isArray(k) ? JSON.stringify(cborJson(k)) : String(k)] = cborJson(x);
    return o;
  }
  return String(v);
}

function paramJson(k: number, v: ParamValue): Json {
  if ((k === PARAM.VENDOR_IDENTIFIER || k === PARAM.CLASS_IDENTIFIER || k === PARAM.DEVICE_IDENTIFIER) && v instanceof Uint8Array && v.length === 16) {
    return uuidToString(v);
  }
  if (k === PARAM.IMAGE_DIGEST) return digestJson(v as SuitDigest);
  if (k === PARAM.VERSION) {
    const vm = v as VersionMatch;
    return { cmp: vm.cmp, version: vm.version };
  }
  return cborJson(v as CborValue);
}

function paramsJson(p: ParameterMap): Json {
  const o: Record<string, Json> = {};
  for (const [k, v] of p) o[paramName(k)] = paramJson(k, v);
  return o;
}

function stepsOf(s: CommandSequence): StepSummary[] {
  return s.commands.map(stepOf);
}

function stepOf(c: Command): StepSummary {
  const base = { offset: c.offset, command: c.code, name: commandName(c.code) };
  switch (c.kind) {
    case 'condition':
    case 'directive':
      return { ...base, arg: c.policy };
    case 'set-component-index':
      return { ...base, arg: c.index };
    case 'set-parameters':
      return { ...base, arg: paramsJson(c.params) };
    case 'try-each':
      return { ...base, arg: { sequences: c.sequences.map(stepsOf) as unknown as Json[], allowAllFail: c.allowAllFail } };
    case 'run-sequence':
      return { ...base, arg: stepsOf(c.sequence) as unknown as Json[] };
    case 'override-multiple': {
      const o: Record<string, Json> = {};
      for (const [i, p] of c.byComponent) o[String(i)] = paramsJson(p);
      return { ...base, arg: o };
    }
    case 'copy-params': {
      const o: Record<string, Json> = {};
      for (const [i, l] of c.bySource) o[String(i)] = l.map(paramName);
      return { ...base, arg: o };
    }
    case 'custom':
      return { ...base, arg: cborJson(c.arg) };
  }
}

/**
 * Statically collect, per component index, the first value each parameter is given anywhere in the
 * manifest (shared sequence first; try-each branches and run-sequence arguments included). A view for
 * people, not the processor's semantics.
 */
function collectParams(sequences: CommandSequence[], nComponents: number): Map<number, ParameterMap> {
  const per = new Map<number, ParameterMap>();
  const all = Array.from({ length: Math.max(nComponents, 1) }, (_, i) => i);
  const apply = (idx: number[], p: ParameterMap): void => {
    for (const i of idx) {
      const m = per.get(i) ?? new Map();
      for (const [k, v] of p) if (!m.has(k)) m.set(k, v);
      per.set(i, m);
    }
  };
  const walk = (s: CommandSequence, start: number[]): number[] => {
    let idx = start;
    for (const c of s.commands) {
      if (c.kind === 'set-component-index') idx = c.index === true ? all : Array.isArray(c.index) ? c.index : [c.index];
      else if (c.kind === 'set-parameters') apply(idx, c.params);
      else if (c.kind === 'override-multiple') {
        for (const [i, p] of c.byComponent) apply([i], p);
        const last = [...c.byComponent.keys()].pop();
        if (last !== undefined) idx = [last];
      } else if (c.kind === 'try-each') for (const b of c.sequences) walk(b, idx);
      else if (c.kind === 'run-sequence') walk(c.sequence, idx);
    }
    return idx;
  };
  for (const s of sequences) walk(s, [0]);
  return per;
}

function textJson(t: SuitText): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [lang, l] of t.byLanguage) {
    const o: Record<string, Json> = {};
    for (const [k, s] of l.keys) o[textKeyNames.get(k) ?? String(k)] = s;
    if (l.components.length > 0) {
      o.components = l.components.map((c) => {
        const co: Record<string, Json> = { id: c.id.map(toHex) };
        for (const [k, s] of c.keys) co[textComponentKeyNames.get(k) ?? String(k)] = s;
        return co;
      });
    }
    out[lang] = o;
  }
  return out;
}

/** Kind, algorithm and key id of one authentication block, read from its COSE headers (no crypto). */
export function describeAuthBlock(block: Uint8Array): SignatureSummary[] {
  try {
    const t = decodeCbor(block, { maxBytes: Infinity });
    if (!(t instanceof Tagged) || !Array.isArray(t.value)) return [{ kind: 'unknown' }];
    const kind = t.tag === TAG_COSE_SIGN1 ? 'Sign1' : t.tag === TAG_COSE_SIGN ? 'Sign' : t.tag === TAG_COSE_MAC0 ? 'Mac0' : t.tag === TAG_COSE_MAC ? 'Mac' : 'unknown';
    const headers = (prot: CborValue, unprot: CborValue): SignatureSummary => {
      const out: SignatureSummary = { kind };
      const maps: CborValue[] = [];
      if (prot instanceof Uint8Array && prot.length > 0) maps.push(decodeCbor(prot, { maxBytes: Infinity }));
      maps.push(unprot);
      for (const m of maps) {
        if (!(m instanceof Map)) continue;
        const alg = m.get(1);
        if (out.alg === undefined && typeof alg === 'number') out.alg = alg;
        const kid = m.get(4);
        if (out.kid === undefined && kid instanceof Uint8Array) out.kid = toHex(kid);
      }
      return out;
    };
    const [prot, unprot, , fourth] = t.value;
    if (kind === 'Sign' && Array.isArray(fourth)) {
      // COSE_Sign: the algorithm and key id belong to each COSE_Signature.
      return fourth.map((s) => (Array.isArray(s) ? headers(s[0], s[1]) : { kind }));
    }
    return [headers(prot, unprot)];
  } catch (e) {
    if (e instanceof UpdateError) return [{ kind: 'unknown' }];
    throw e;
  }
}

const SEVERABLE_FIELDS: [number, keyof SuitManifest][] = [
  [14, 'coswid'],
  [15, 'dependencyResolution'],
  [16, 'payloadFetch'],
  [18, 'candidateVerification'],
  [20, 'install'],
  [23, 'text'],
];

export function summarizeEnvelope(env: SuitEnvelope): EnvelopeSummary {
  const m = env.manifest;
  const sequences: Record<string, StepSummary[]> = {};
  const seqList: CommandSequence[] = [];
  const add = (name: string, s: CommandSequence | undefined): void => {
    if (!s) return;
    sequences[name] = stepsOf(s);
    seqList.push(s);
  };
  add('shared-sequence', m.common.sharedSequence);
  const tryGet = <K extends 15 | 16 | 18 | 20>(k: K): CommandSequence | undefined => {
    try {
      return getSevered(env, k);
    } catch {
      return undefined; // severed and not carried (or not matching): listed under `severed`
    }
  };
  add('dependency-resolution', tryGet(15));
  add('payload-fetch', tryGet(16));
  add('candidate-verification', tryGet(18));
  add('install', tryGet(20));
  add('validate', m.validate);
  add('load', m.load);
  add('invoke', m.invoke);
  add('uninstall', m.uninstall);

  const params = collectParams(seqList, m.common.components.length);
  const components: ComponentSummary[] = m.common.components.map((id, index) => {
    const p = params.get(index) ?? new Map<number, ParamValue>();
    const c: ComponentSummary = { index, id: id.map(toHex) };
    const v = p.get(PARAM.VENDOR_IDENTIFIER);
    if (v instanceof Uint8Array && v.length === 16) c.vendorId = uuidToString(v);
    const cl = p.get(PARAM.CLASS_IDENTIFIER);
    if (cl instanceof Uint8Array && cl.length === 16) c.classId = uuidToString(cl);
    const d = p.get(PARAM.IMAGE_DIGEST);
    if (d) c.imageDigest = digestJson(d as SuitDigest);
    const size = p.get(PARAM.IMAGE_SIZE);
    if (typeof size === 'number' || typeof size === 'bigint') c.imageSize = num(size);
    const uri = p.get(PARAM.URI);
    if (typeof uri === 'string') c.uri = uri;
    const slot = p.get(PARAM.COMPONENT_SLOT);
    if (typeof slot === 'number' || typeof slot === 'bigint') c.slot = num(slot);
    return c;
  });

  let text: Record<string, Json> | undefined;
  try {
    const t = getSevered(env, 23);
    if (t) text = textJson(t);
  } catch {
    text = undefined;
  }

  const severed: EnvelopeSummary['severed'] = [];
  for (const [k, field] of SEVERABLE_FIELDS) {
    const member = m[field] as { severed?: SuitDigest } | undefined;
    if (member?.severed) severed.push({ key: k, name: manifestMemberName(k), carried: env.severed.has(k), digest: digestJson(member.severed) });
  }

  const first = components.find((c) => c.vendorId) ?? components[0];
  const out: EnvelopeSummary = {
    tagged: env.tagged,
    digest: { alg: env.digest.alg, algName: digestAlgName(env.digest.alg), hex: toHex(env.digest.bytes) },
    sequenceNumber: num(m.sequenceNumber),
    components,
    sequences,
    signatures: env.authBlocks.flatMap(describeAuthBlock),
    severed,
    integrated: [...env.integrated].map(([key, b]) => ({ key, size: b.length })),
  };
  if (m.referenceUri !== undefined) out.referenceUri = m.referenceUri;
  if (first?.vendorId) out.vendorId = first.vendorId;
  const firstClass = components.find((c) => c.classId)?.classId;
  if (firstClass) out.classId = firstClass;
  if (m.setVersion) out.version = formatVersion(m.setVersion);
  if (text) out.text = text;
  if (m.extensions.size > 0) out.extensions = [...m.extensions.keys()];
  return out;
}
