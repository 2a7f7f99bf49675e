/**
 * SUIT_Report (draft-ietf-suit-report-18): what a manifest processor did and where it failed.
 *
 * ```
 * SUIT_Report = { 99 suit-reference => [ manifest-uri: tstr, manifest-digest: SUIT_Digest ],
 *   ? 2 nonce => bstr, 3 records => [ * SUIT_Record / system-property-claims ],
 *   4 result => true / { 5 result-code => int, 6 result-record => SUIT_Record, 7 result-reason => int },
 *   ? 8 capability-report => SUIT_Capability_Report }
 * SUIT_Record = [ manifest-id: [* uint], manifest-section: int, section-offset: uint,
 *                 component-index: uint, properties: { * SUIT_Parameters } ]
 * system-property-claims = { 0 system-component-id => SUIT_Component_Identifier, + SUIT_Parameters }
 * ```
 *
 * `result-code` carries the report byte of the error-table code (manifest/errors.ts `ERRORS[code].report`);
 * `codeForReportByte` maps it back. `result-reason` is a `REPORT_REASON` value.
 *
 * Encoding is deterministic (RFC 8949 core deterministic). Decoding is strict: every shape error is
 * `REPORT_MALFORMED`; no other exception escapes `decodeReport`.
 */
import { Tagged, decodeCbor, encodeCbor, type CborKey, type CborValue } from '../cbor.js';
import { UpdateError } from '../errors.js';
import { PARAM, REPORT, TAG_CBOR_PEN } from '../keys.js';
import type { ComponentId, ParameterMap, ParamValue, SuitDigest, VersionMatch } from '../model.js';

export interface SuitRecord {
  /** Path of the manifest in the dependency tree; `[]` = the root manifest. */
  manifestId: number[];
  /** Manifest key of the section (7 validate, 8 load, 9 invoke, 15, 16, 18, 20; 4 for the shared sequence is not used — records name the section that ran it). */
  section: number;
  /** Byte offset of the command inside the command sequence (bstr content). */
  offset: number;
  componentIndex: number;
  /** Parameters relevant to the command (what was compared, what was used). */
  properties: ParameterMap;
}

/** system-property-claims: the device's own values for a component (sent per the sysinfo policy bits). */
export interface SuitSystemProperties {
  componentId: ComponentId;
  properties: ParameterMap;
}

export interface SuitReportFailure {
  /** Report byte of the error-table code (`ERRORS[code].report`). */
  code: number;
  record: SuitRecord;
  /** `REPORT_REASON` value. */
  reason: number;
}

export interface SuitReport {
  reference: { uri: string; digest: SuitDigest };
  nonce?: Uint8Array;
  records: SuitRecord[];
  /**
   * system-property-claims entries of the records array. On the wire they share the records array;
   * `encodeReport` writes them after the SUIT_Records (order between the two kinds is not kept).
   */
  systemProperties?: SuitSystemProperties[];
  result: true | SuitReportFailure;
  /** SUIT_Capability_Report as decoded CBOR (a map); passed through unchanged. */
  capabilities?: Map<CborKey, CborValue>;
}

// ------------------------------------------------------------------ parameters ↔ CBOR

/** Wire form of one parameter value (bstr-wrapped digests and version matches, §8.4.8). */
export function paramToCbor(key: number, v: ParamValue): CborValue {
  if (key === PARAM.IMAGE_DIGEST && isDigest(v)) return encodeCbor([v.alg, v.bytes]);
  if (key === PARAM.VERSION && isVersionMatch(v)) return encodeCbor([v.cmp, v.version]);
  if (isDigest(v)) return [v.alg, v.bytes];
  return v as CborValue;
}

export function parametersToCbor(p: ReadonlyMap<number, ParamValue>): Map<CborKey, CborValue> {
  const m = new Map<CborKey, CborValue>();
  for (const [k, v] of p) m.set(k, paramToCbor(k, v));
  return m;
}

function isDigest(v: unknown): v is SuitDigest {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && 'alg' in v && 'bytes' in v;
}
function isVersionMatch(v: unknown): v is VersionMatch {
  return typeof v === 'object' && v !== null && 'cmp' in v && 'version' in v;
}

function bad(msg: string, path: string): UpdateError {
  return new UpdateError('REPORT_MALFORMED', `SUIT_Report ${path}: ${msg}`, { details: { path } });
}

function asUint(v: CborValue, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw bad('expected an unsigned integer', path);
}
function asInt(v: CborValue, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw bad('expected an integer', path);
}
function isUintValue(v: CborValue): v is number | bigint {
  return (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);
}
function asMap(v: CborValue, path: string): Map<CborKey, CborValue> {
  if (v instanceof Map) return v;
  throw bad('expected a map', path);
}

function digestFrom(v: CborValue, path: string): SuitDigest {
  if (!Array.isArray(v) || v.length !== 2) throw bad('expected SUIT_Digest [alg, bytes]', path);
  const [alg, bytes] = v;
  if (typeof alg !== 'number' || !Number.isSafeInteger(alg)) throw bad('digest algorithm must be an integer', path);
  if (!(bytes instanceof Uint8Array)) throw bad('digest bytes must be a byte string', path);
  return { alg, bytes };
}

function decodeNested(b: Uint8Array, path: string): CborValue {
  try {
    return decodeCbor(b, { maxBytes: 4096, maxDepth: 8 });
  } catch (e) {
    throw new UpdateError('REPORT_MALFORMED', `SUIT_Report ${path}: bstr-wrapped value is not CBOR`, { cause: e, details: { path } });
  }
}

/** Strict decode of one parameter value by parameter number (types of suit.md §3 "Parameters"). */
export function paramFromCbor(key: number, v: CborValue, path: string): ParamValue {
  switch (key) {
    case PARAM.VENDOR_IDENTIFIER:
      if (v instanceof Uint8Array) return v;
      if (v instanceof Tagged && v.tag === TAG_CBOR_PEN && v.value instanceof Uint8Array) return v;
      throw bad('vendor-identifier must be a bstr UUID or #6.112(bstr)', path);
    case PARAM.CLASS_IDENTIFIER:
    case PARAM.DEVICE_IDENTIFIER:
    case PARAM.CONTENT:
    case PARAM.ENCRYPTION_INFO:
    case PARAM.INVOKE_ARGS:
    case PARAM.FETCH_ARGUMENTS:
    case PARAM.WAIT_INFO:
    case PARAM.COMPONENT_METADATA:
      if (v instanceof Uint8Array) return v;
      throw bad('expected a byte string', path);
    case PARAM.IMAGE_DIGEST:
      if (!(v instanceof Uint8Array)) throw bad('image-digest must be bstr .cbor SUIT_Digest', path);
      return digestFrom(decodeNested(v, path), path);
    case PARAM.VERSION: {
      if (!(v instanceof Uint8Array)) throw bad('version must be bstr .cbor [type, [+int]]', path);
      const d = decodeNested(v, path);
      if (!Array.isArray(d) || d.length !== 2 || !Array.isArray(d[1]) || d[1].length === 0) throw bad('version must be [type, [+int]]', path);
      const cmp = asInt(d[0]!, path);
      return { cmp, version: d[1].map((x) => asInt(x, path)) };
    }
    case PARAM.USE_BEFORE:
    case PARAM.COMPONENT_SLOT:
    case PARAM.IMAGE_SIZE:
    case PARAM.SOURCE_COMPONENT:
    case PARAM.MINIMUM_BATTERY:
      if (isUintValue(v)) return v;
      throw bad('expected an unsigned integer', path);
    case PARAM.UPDATE_PRIORITY:
      return asInt(v, path);
    case PARAM.STRICT_ORDER:
    case PARAM.SOFT_FAILURE:
      if (typeof v === 'boolean') return v;
      throw bad('expected a boolean', path);
    case PARAM.URI:
      if (typeof v === 'string') return v;
      throw bad('expected a text string', path);
    default:
      if (key < 0) {
        if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || typeof v === 'string' || v instanceof Uint8Array) return v;
        throw bad('custom parameter must be int, bool, tstr or bstr', path);
      }
      return v;
  }
}

function parametersFrom(m: Map<CborKey, CborValue>, path: string, skipKey?: number): ParameterMap {
  const out: ParameterMap = new Map();
  for (const [k, v] of m) {
    if (k === skipKey) continue;
    if (typeof k !== 'number' || !Number.isSafeInteger(k)) throw bad('parameter keys must be integers', path);
    out.set(k, paramFromCbor(k, v, `${path}.${k}`));
  }
  return out;
}

// ------------------------------------------------------------------ records

export function recordToCbor(r: SuitRecord): CborValue {
  return [r.manifestId, r.section, r.offset, r.componentIndex, parametersToCbor(r.properties)];
}

function recordFrom(v: CborValue, path: string): SuitRecord {
  if (!Array.isArray(v) || v.length !== 5) throw bad('SUIT_Record must be a 5-element array', path);
  const [mid, section, offset, idx, props] = v as [CborValue, CborValue, CborValue, CborValue, CborValue];
  if (!Array.isArray(mid)) throw bad('manifest-id must be an array', `${path}[0]`);
  return {
    manifestId: mid.map((x, i) => asUint(x, `${path}[0][${i}]`)),
    section: asInt(section, `${path}[1]`),
    offset: asUint(offset, `${path}[2]`),
    componentIndex: asUint(idx, `${path}[3]`),
    properties: parametersFrom(asMap(props, `${path}[4]`), `${path}[4]`),
  };
}

function systemPropertiesFrom(m: Map<CborKey, CborValue>, path: string): SuitSystemProperties {
  const id = m.get(0);
  if (!Array.isArray(id) || !id.every((x): x is Uint8Array => x instanceof Uint8Array)) {
    throw bad('system-component-id (0) must be a SUIT_Component_Identifier', path);
  }
  const properties = parametersFrom(m, path, 0);
  if (properties.size === 0) throw bad('system-property-claims needs at least one parameter', path);
  return { componentId: id, properties };
}

// ------------------------------------------------------------------ report

export function reportToCbor(r: SuitReport): Map<CborKey, CborValue> {
  const m = new Map<CborKey, CborValue>();
  m.set(REPORT.REFERENCE, [r.reference.uri, [r.reference.digest.alg, r.reference.digest.bytes]]);
  if (r.nonce !== undefined) m.set(REPORT.NONCE, r.nonce);
  const recs: CborValue[] = r.records.map(recordToCbor);
  for (const s of r.systemProperties ?? []) {
    const sm = parametersToCbor(s.properties);
    sm.set(0, s.componentId);
    recs.push(sm);
  }
  m.set(REPORT.RECORDS, recs);
  if (r.result === true) m.set(REPORT.RESULT, true);
  else {
    m.set(
      REPORT.RESULT,
      new Map<CborKey, CborValue>([
        [REPORT.RESULT_CODE, r.result.code],
        [REPORT.RESULT_RECORD, recordToCbor(r.result.record)],
        [REPORT.RESULT_REASON, r.result.reason],
      ]),
    );
  }
  if (r.capabilities !== undefined) m.set(REPORT.CAPABILITY_REPORT, r.capabilities);
  return m;
}

/** Deterministic encoding of a SUIT_Report. */
export function encodeReport(r: SuitReport): Uint8Array {
  return encodeCbor(reportToCbor(r));
}

/** Default size limit for a report before decoding. */
export const REPORT_MAX_BYTES = 64 * 1024;

/** Strict decode; throws only `UpdateError` (REPORT_MALFORMED, or the CBOR codes for ill-formed bytes). */
export function decodeReport(bytes: Uint8Array, opts: { maxBytes?: number } = {}): SuitReport {
  let v: CborValue;
  try {
    v = decodeCbor(bytes, { maxBytes: opts.maxBytes ?? REPORT_MAX_BYTES, maxDepth: 16 });
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    throw new UpdateError('REPORT_MALFORMED', 'SUIT_Report is not CBOR', { cause: e });
  }
  return reportFromCbor(v);
}

/** Shape check of an already-decoded SUIT_Report (e.g. the payload of a signed report). */
export function reportFromCbor(v: CborValue): SuitReport {
  try {
    return reportFromCborInner(v);
  } catch (e) {
    if (e instanceof UpdateError) throw e;
    throw new UpdateError('REPORT_MALFORMED', 'SUIT_Report has an invalid shape', { cause: e });
  }
}

const KNOWN_KEYS = new Set<CborKey>(Object.values(REPORT).filter((k) => k !== REPORT.RESULT_CODE && k !== REPORT.RESULT_RECORD && k !== REPORT.RESULT_REASON));

function reportFromCborInner(v: CborValue): SuitReport {
  const m = asMap(v, '');
  for (const k of m.keys()) if (!KNOWN_KEYS.has(k)) throw bad(`unknown key ${String(k)}`, '');
  const ref = m.get(REPORT.REFERENCE);
  if (!Array.isArray(ref) || ref.length !== 2 || typeof ref[0] !== 'string') throw bad('suit-reference must be [tstr, SUIT_Digest]', '99');
  const report: SuitReport = { reference: { uri: ref[0], digest: digestFrom(ref[1]!, '99[1]') }, records: [], result: true };
  if (m.has(REPORT.NONCE)) {
    const n = m.get(REPORT.NONCE);
    if (!(n instanceof Uint8Array)) throw bad('nonce must be a byte string', '2');
    report.nonce = n;
  }
  const recs = m.get(REPORT.RECORDS);
  if (!Array.isArray(recs)) throw bad('records (3) is required and must be an array', '3');
  recs.forEach((r, i) => {
    if (r instanceof Map) (report.systemProperties ??= []).push(systemPropertiesFrom(r, `3[${i}]`));
    else report.records.push(recordFrom(r, `3[${i}]`));
  });
  const res = m.get(REPORT.RESULT);
  if (res === true) report.result = true;
  else if (res instanceof Map) {
    for (const k of res.keys()) {
      if (k !== REPORT.RESULT_CODE && k !== REPORT.RESULT_RECORD && k !== REPORT.RESULT_REASON) throw bad(`unknown result key ${String(k)}`, '4');
    }
    const code = res.get(REPORT.RESULT_CODE);
    const rec = res.get(REPORT.RESULT_RECORD);
    const reason = res.get(REPORT.RESULT_REASON);
    if (code === undefined || rec === undefined || reason === undefined) throw bad('result needs result-code, result-record and result-reason', '4');
    report.result = { code: asInt(code, '4.5'), record: recordFrom(rec, '4.6'), reason: asInt(reason, '4.7') };
  } else throw bad('result (4) is required: true or a failure map', '4');
  if (m.has(REPORT.CAPABILITY_REPORT)) report.capabilities = asMap(m.get(REPORT.CAPABILITY_REPORT)!, '8');
  return report;
}
