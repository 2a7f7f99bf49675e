/**
 * `suit-sign create`: a release description → an unsigned SUIT envelope.
 *
 * The manifest layout (docs/release-description.md, "What the manifest says"):
 *   common.shared-sequence   per component: override {vendor-id, class-id, image-digest, image-size, slot?},
 *                            condition vendor-identifier, condition class-identifier
 *   install (20)             per component: version conditions; then either
 *                              full image:  override {uri}; fetch; image-match
 *                              delta from listed precursors: try-each [
 *                                per precursor: override {image-digest: precursor, image-size}; image-match;
 *                                               override {image-digest: target, image-size, uri: patch, fetch-arguments}; fetch; image-match
 *                                full image:    override {image-digest: target, image-size, uri}; fetch; image-match ]
 *                              delta from any precursor: override {uri, fetch-arguments{any}}; fetch; image-match
 *                            and always a final image-match on the target digest, which binds the result
 *   validate (7)             per component: image-match
 *   invoke (9)               components with `invoke: true`: invoke
 *   text (23)                severed by default; manifest keeps its digest
 */
import * as path from 'node:path';
import {
  CMD,
  COMMON,
  DIGEST_ALG,
  MAN,
  PARAM,
  REP,
  TEXT,
  TEXT_COMPONENT,
  RawCbor,
  UpdateError,
  computeDigest,
  encodeCbor,
  compareBytes,
  buildEnvelope,
  encodeEnvelope,
  vendorIdFromDomain,
  classIdFrom,
  parseUuid,
  uuidToString,
  type CborValue,
  type SuitDigest,
} from '../manifest/index.js';
import { hashFile, type ProgressFn } from './hash-file.js';
import {
  componentIdPartBytes,
  invalid,
  parseReleaseDescription,
  parseSuitVersion,
  parseVersionMatch,
  type ReleaseComponent,
  type ReleaseDescription,
} from './release-description.js';

const DIGEST_BY_NAME: Record<string, number> = { 'sha-256': DIGEST_ALG.SHA256, 'sha-384': DIGEST_ALG.SHA384, 'sha-512': DIGEST_ALG.SHA512 };
const DIGEST_LEN: Record<number, number> = { [DIGEST_ALG.SHA256]: 32, [DIGEST_ALG.SHA384]: 48, [DIGEST_ALG.SHA512]: 64 };

/** fetch-arguments (param 25) keys of this project's delta transport convention (docs/release-description.md). */
export const FETCH_ARGS = { ENCODING: 1, PRECURSOR: 2, ANY_PRECURSOR: 3 } as const;

export interface CreateOptions {
  /** Directory image paths are relative to (usually the description file's directory). */
  baseDir: string;
  onProgress?: ProgressFn;
}

export interface ResolvedComponent {
  index: number;
  id: Uint8Array[];
  digest: SuitDigest;
  size: number;
  vendorId: Uint8Array;
  classId: Uint8Array;
  uri?: string;
  slot?: number;
  invoke: boolean;
  requires: { cmp: number; version: number[] }[];
  delta?:
    | { encoding: string; precursors: { digest: SuitDigest; size: number; uri: string }[] }
    | { encoding: string; any: true; uri?: string };
  text: Map<number, string>;
}

export interface CreatedRelease {
  /** The unsigned envelope bytes (tag 107). */
  envelope: Uint8Array;
  /** Exact manifest bytes (content of envelope key 3). */
  manifest: Uint8Array;
  digest: SuitDigest;
  vendorId: string;
  classId: string;
  sequenceNumber: string;
  components: { index: number; id: string[]; digest: string; size: number; uri?: string }[];
}

const bstr = (v: CborValue): Uint8Array => encodeCbor(v);
const digestCbor = (d: SuitDigest): CborValue => [d.alg, d.bytes];

/** A CBOR map whose keys may be arrays (SUIT_Text_LMap uses component ids as keys), deterministic order. */
function rawMap(entries: [CborValue, CborValue][]): RawCbor {
  const enc = entries.map(([k, v]) => [encodeCbor(k), encodeCbor(v)] as const).sort((a, b) => compareBytes(a[0], b[0]));
  const n = enc.length;
  const header = n < 24 ? Uint8Array.of(0xa0 + n) : n < 256 ? Uint8Array.of(0xb8, n) : Uint8Array.of(0xb9, n >> 8, n & 0xff);
  const parts = [header, ...enc.flatMap(([k, v]) => [k, v])];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new RawCbor(out);
}

function identity(v: ReleaseDescription['vendor'], field: string, source: string): Uint8Array {
  if ('uuid' in v && v.uuid) return parseUuid(v.uuid);
  if ('domain' in v && v.domain) return vendorIdFromDomain(v.domain.toLowerCase());
  throw invalid(source, [{ field, message: 'needs domain or uuid' }]);
}

function classIdentity(c: ReleaseDescription['class'], vendorId: Uint8Array): Uint8Array {
  return 'uuid' in c && c.uuid ? parseUuid(c.uuid) : classIdFrom(vendorId, (c as { info: string }).info);
}

function digestFromDesc(d: { alg: string; hex: string }, field: string, source: string): SuitDigest {
  const alg = DIGEST_BY_NAME[d.alg]!;
  const bytes = Uint8Array.from(Buffer.from(d.hex, 'hex'));
  if (bytes.length !== DIGEST_LEN[alg]) throw invalid(source, [{ field: `${field}.hex`, message: `must be ${DIGEST_LEN[alg]} bytes for ${d.alg}` }]);
  return { alg, bytes };
}

async function resolveComponent(c: ReleaseComponent, i: number, desc: ReleaseDescription, opts: CreateOptions, source: string): Promise<ResolvedComponent> {
  const f = `components[${i}]`;
  const alg = DIGEST_BY_NAME[desc.digestAlgorithm]!;
  let digest: SuitDigest;
  let size: number;
  if (c.image !== undefined) {
    const file = path.resolve(opts.baseDir, c.image);
    try {
      ({ digest, size } = await hashFile(file, alg, opts.onProgress, `${f}.image`));
    } catch (e) {
      if (e instanceof UpdateError && e.code === 'FILE_NOT_FOUND') throw invalid(source, [{ field: `${f}.image`, message: `file ${file} does not exist` }]);
      throw e;
    }
  } else {
    digest = digestFromDesc(c.digest!, `${f}.digest`, source);
    size = c.size!;
  }
  const vendorId = c.vendor ? identity(c.vendor, `${f}.vendor`, source) : identity(desc.vendor, 'vendor', source);
  const classId = classIdentity(c.class ?? desc.class, vendorId);
  let delta: ResolvedComponent['delta'];
  if (c.delta && 'precursors' in c.delta) {
    const precursors = [];
    for (const [j, p] of c.delta.precursors.entries()) {
      const pf = `${f}.delta.precursors[${j}]`;
      if (p.image !== undefined) {
        const file = path.resolve(opts.baseDir, p.image);
        try {
          const h = await hashFile(file, alg, opts.onProgress, `${pf}.image`);
          precursors.push({ digest: h.digest, size: h.size, uri: p.uri });
        } catch (e) {
          if (e instanceof UpdateError && e.code === 'FILE_NOT_FOUND') throw invalid(source, [{ field: `${pf}.image`, message: `file ${file} does not exist` }]);
          throw e;
        }
      } else {
        precursors.push({ digest: digestFromDesc(p.digest!, `${pf}.digest`, source), size: p.size!, uri: p.uri });
      }
    }
    if (c.uri === undefined) throw invalid(source, [{ field: `${f}.uri`, message: 'is required with delta (the full image is the fallback)' }]);
    delta = { encoding: c.delta.encoding, precursors };
  } else if (c.delta && 'anyPrecursor' in c.delta) {
    if (c.uri === undefined && c.delta.uri === undefined) throw invalid(source, [{ field: `${f}.uri`, message: 'is required with delta' }]);
    delta = { encoding: c.delta.encoding, any: true, ...(c.delta.uri !== undefined ? { uri: c.delta.uri } : {}) };
  }
  const text = new Map<number, string>();
  const vendorDesc = c.vendor ?? desc.vendor;
  const classDesc = c.class ?? desc.class;
  if (vendorDesc.name) text.set(TEXT_COMPONENT.VENDOR_NAME, vendorDesc.name);
  if (classDesc.name) text.set(TEXT_COMPONENT.MODEL_NAME, classDesc.name);
  if ('domain' in vendorDesc && vendorDesc.domain) text.set(TEXT_COMPONENT.VENDOR_DOMAIN, vendorDesc.domain);
  if ('info' in classDesc && classDesc.info) text.set(TEXT_COMPONENT.MODEL_INFO, classDesc.info);
  if (c.description) text.set(TEXT_COMPONENT.COMPONENT_DESCRIPTION, c.description);
  if (c.version) text.set(TEXT_COMPONENT.COMPONENT_VERSION, c.version);
  const requires = (c.requiresVersion ?? []).map((s) => parseVersionMatch(s));
  return {
    index: i,
    id: c.id.map(componentIdPartBytes),
    digest,
    size,
    vendorId,
    classId,
    ...(c.uri !== undefined ? { uri: c.uri } : {}),
    ...(c.slot !== undefined ? { slot: c.slot } : {}),
    invoke: c.invoke,
    requires,
    ...(delta ? { delta } : {}),
    text,
  };
}

/** The bstr-wrapped fetch-arguments for the delta transport. */
export function fetchArguments(encoding: string | undefined, precursor?: SuitDigest, any = false): Uint8Array {
  const m = new Map<number, CborValue>();
  if (encoding !== undefined) m.set(FETCH_ARGS.ENCODING, encoding);
  if (precursor) m.set(FETCH_ARGS.PRECURSOR, digestCbor(precursor));
  if (any) m.set(FETCH_ARGS.ANY_PRECURSOR, true);
  return encodeCbor(m);
}

type Seq = CborValue[];

function selectComponent(seq: Seq, c: ResolvedComponent, many: boolean): void {
  if (many) seq.push(CMD.SET_COMPONENT_INDEX, c.index);
}

const COND_POLICY = REP.RECORD_ON_SUCCESS | REP.RECORD_ON_FAILURE | REP.SYSINFO_SUCCESS | REP.SYSINFO_FAILURE; // 15, as in the draft's examples
const DIR_POLICY = REP.RECORD_ON_FAILURE; // 2

function targetParams(c: ResolvedComponent, extra: [number, CborValue][] = []): Map<number, CborValue> {
  return new Map<number, CborValue>([[PARAM.IMAGE_DIGEST, bstr(digestCbor(c.digest))], [PARAM.IMAGE_SIZE, c.size], ...extra]);
}

/** The install steps of one component (exported so the device/processor tests can reuse the layout). */
export function installSteps(c: ResolvedComponent): Seq {
  const seq: Seq = [];
  for (const r of c.requires) {
    seq.push(CMD.OVERRIDE_PARAMETERS, new Map<number, CborValue>([[PARAM.VERSION, bstr([r.cmp, r.version])]]), CMD.VERSION, COND_POLICY);
  }
  // fetch-arguments persist across try-each branches, so the full-image branch sets its own (an empty
  // map: plain fetch) rather than inheriting a failed delta branch's.
  const fullBranch = (): Seq => [
    CMD.OVERRIDE_PARAMETERS,
    targetParams(c, [[PARAM.URI, c.uri!], [PARAM.FETCH_ARGUMENTS, encodeCbor(new Map())]]),
    CMD.FETCH,
    DIR_POLICY,
    CMD.IMAGE_MATCH,
    COND_POLICY,
  ];
  if (!c.delta) {
    if (c.uri === undefined) return seq; // nothing to fetch: the image arrives another way (e.g. bundle)
    seq.push(CMD.OVERRIDE_PARAMETERS, new Map<number, CborValue>([[PARAM.URI, c.uri]]), CMD.FETCH, DIR_POLICY);
  } else if ('precursors' in c.delta) {
    const branches: Uint8Array[] = c.delta.precursors.map((p) =>
      bstr([
        // Is the installed image this precursor? (a failed condition moves on to the next branch)
        CMD.OVERRIDE_PARAMETERS,
        new Map<number, CborValue>([[PARAM.IMAGE_DIGEST, bstr(digestCbor(p.digest))], [PARAM.IMAGE_SIZE, p.size]]),
        CMD.IMAGE_MATCH,
        COND_POLICY,
        // Then fetch the patch; the transport rebuilds the target from it (fetch-arguments say how).
        CMD.OVERRIDE_PARAMETERS,
        targetParams(c, [[PARAM.URI, p.uri], [PARAM.FETCH_ARGUMENTS, fetchArguments((c.delta as { encoding: string }).encoding, p.digest)]]),
        CMD.FETCH,
        DIR_POLICY,
        CMD.IMAGE_MATCH,
        COND_POLICY,
      ]),
    );
    branches.push(bstr(fullBranch()));
    seq.push(CMD.TRY_EACH, branches);
  } else {
    seq.push(
      CMD.OVERRIDE_PARAMETERS,
      new Map<number, CborValue>([[PARAM.URI, c.delta.uri ?? c.uri!], [PARAM.FETCH_ARGUMENTS, fetchArguments(c.delta.encoding, undefined, true)]]),
      CMD.FETCH,
      DIR_POLICY,
    );
  }
  // The target digest binds whatever path produced the image (draft §8.4.10.1 image-match).
  seq.push(CMD.OVERRIDE_PARAMETERS, targetParams(c), CMD.IMAGE_MATCH, COND_POLICY);
  return seq;
}

export interface BuiltManifest {
  manifest: Uint8Array;
  severed: Map<number, Uint8Array>;
}

/** Encode the manifest (and the severed members' contents) from resolved components. */
export function buildManifestBytes(desc: ReleaseDescription, comps: ResolvedComponent[]): BuiltManifest {
  const many = comps.length > 1;
  const shared: Seq = [];
  for (const c of comps) {
    selectComponent(shared, c, many);
    const p = new Map<number, CborValue>([
      [PARAM.VENDOR_IDENTIFIER, c.vendorId],
      [PARAM.CLASS_IDENTIFIER, c.classId],
      [PARAM.IMAGE_DIGEST, bstr(digestCbor(c.digest))],
      [PARAM.IMAGE_SIZE, c.size],
    ]);
    if (c.slot !== undefined) p.set(PARAM.COMPONENT_SLOT, c.slot);
    shared.push(CMD.OVERRIDE_PARAMETERS, p, CMD.VENDOR_IDENTIFIER, COND_POLICY, CMD.CLASS_IDENTIFIER, COND_POLICY);
  }
  const common = new Map<number, CborValue>([
    [COMMON.COMPONENTS, comps.map((c) => c.id)],
    [COMMON.SHARED_SEQUENCE, bstr(shared)],
  ]);

  const install: Seq = [];
  for (const c of comps) {
    const steps = installSteps(c);
    if (steps.length === 0) continue;
    selectComponent(install, c, many);
    install.push(...steps);
  }
  const validate: Seq = [];
  for (const c of comps) {
    selectComponent(validate, c, many);
    validate.push(CMD.IMAGE_MATCH, COND_POLICY);
  }
  const invoke: Seq = [];
  for (const c of comps.filter((x) => x.invoke)) {
    selectComponent(invoke, c, many);
    invoke.push(CMD.INVOKE, DIR_POLICY);
  }

  const seqNo = typeof desc.sequenceNumber === 'string' ? BigInt(desc.sequenceNumber) : desc.sequenceNumber;
  const m = new Map<number, CborValue>([
    [MAN.VERSION, 1],
    [MAN.SEQUENCE_NUMBER, typeof seqNo === 'bigint' && seqNo <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seqNo) : seqNo],
    [MAN.COMMON, bstr(common)],
    [MAN.VALIDATE, bstr(validate)],
  ]);
  if (desc.referenceUri) m.set(MAN.REFERENCE_URI, desc.referenceUri);
  if (desc.version) m.set(MAN.SET_VERSION, bstr(parseSuitVersion(desc.version)));
  if (invoke.length) m.set(MAN.INVOKE, bstr(invoke));

  const severed = new Map<number, Uint8Array>();
  const digestAlg = DIGEST_BY_NAME[desc.digestAlgorithm]!;
  const member = (key: number, content: Uint8Array, sever: boolean): void => {
    if (sever) {
      // The manifest keeps the digest of the encoded bstr (header included), as the envelope holds it (§1 rule 3).
      m.set(key, digestCbor(computeDigest(digestAlg, encodeCbor(content))));
      severed.set(key, content);
    } else m.set(key, content);
  };
  if (install.length) member(MAN.INSTALL, bstr(install), desc.sever.includes('install'));

  const textEntries: [CborValue, CborValue][] = [];
  if (desc.text?.manifestDescription) textEntries.push([TEXT.MANIFEST_DESCRIPTION, desc.text.manifestDescription]);
  if (desc.text?.updateDescription) textEntries.push([TEXT.UPDATE_DESCRIPTION, desc.text.updateDescription]);
  for (const c of comps) if (c.text.size) textEntries.push([c.id, new Map<number, CborValue>([...c.text.entries()].sort((a, b) => a[0] - b[0]))]);
  if (textEntries.length) {
    const lang = desc.text?.language ?? 'en';
    const textMap = new Map<string, CborValue>([[lang, rawMap(textEntries)]]);
    member(MAN.TEXT, bstr(textMap), desc.sever.includes('text'));
  }
  return { manifest: encodeCbor(m), severed };
}

/** Build an unsigned envelope from a parsed (or raw) release description. */
export async function createRelease(descInput: ReleaseDescription | unknown, opts: CreateOptions, source = 'release description'): Promise<CreatedRelease> {
  const desc = parseReleaseDescription(descInput, source);
  const seen = new Set<string>();
  for (const [i, c] of desc.components.entries()) {
    const key = JSON.stringify(c.id);
    if (seen.has(key)) throw invalid(source, [{ field: `components[${i}].id`, message: 'repeats the id of an earlier component' }]);
    seen.add(key);
  }
  const comps: ResolvedComponent[] = [];
  for (const [i, c] of desc.components.entries()) comps.push(await resolveComponent(c, i, desc, opts, source));
  const built = buildManifestBytes(desc, comps);
  const env = buildEnvelope({ manifest: built.manifest, severed: built.severed, digestAlg: DIGEST_BY_NAME[desc.digestAlgorithm]! });
  const envelope = encodeEnvelope(env);
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return {
    envelope,
    manifest: built.manifest,
    digest: env.digest,
    vendorId: uuidToString(comps[0]!.vendorId),
    classId: uuidToString(comps[0]!.classId),
    sequenceNumber: String(desc.sequenceNumber),
    components: comps.map((c) => ({ index: c.index, id: c.id.map(hex), digest: hex(c.digest.bytes), size: c.size, ...(c.uri ? { uri: c.uri } : {}) })),
  };
}

