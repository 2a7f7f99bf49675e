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
import { encodeCbor, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { COMMON, MAN } from '../keys.js';
import type { CommandSequence, ComponentId, Severable, SuitCommon, SuitDigest, SuitManifest, SuitText } from '../model.js';
import { decodeSequence, encodeSequence, type SequenceInput } from './commands.js';
import { bad, bstr, Ctx, decodeComponentId, intMap, isUint, uintNumber, type DecodeManifestOptions } from './decode-context.js';
import { digestFromCbor, digestToCbor } from './digest.js';
import { manifestMemberName } from './names.js';
import { decodeText, encodeText, type TextInput } from './text.js';

// The parts of the codec (command sequences, text, the shared decode context), re-exported so this stays
// the one module to import the manifest codec from.
export { decodeCommandSequence, encodeSequence, type CommandInput, type SequenceInput } from './commands.js';
export { decodeComponentId, rethrowAt, type DecodeManifestOptions } from './decode-context.js';
export { encodeText, type TextInput } from './text.js';

// ------------------------------------------------------------------------------------------ inputs

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

// ------------------------------------------------------------------------------------------ decoding

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

// ------------------------------------------------------------------------------------------ encoding

function enc(v: CborValue): Uint8Array {
  return encodeCbor(v);
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
