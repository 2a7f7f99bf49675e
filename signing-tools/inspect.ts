/**
 * `suit-sign inspect`: a readable tree, JSON (manifest's `summarizeEnvelope`, the same view the
 * server shows) or CBOR diagnostic notation (`toDiagnostic`). Nothing is verified here: say so.
 */
import { Tagged, UpdateError, decodeCbor, decodeEnvelope, summarizeEnvelope, toDiagnostic, type CborValue } from '../manifest/index.js';
import { MAX_ENVELOPE_BYTES, readEnvelopeBytes } from './envelope-file.js';
import { jsonSafe } from './output.js';

export async function inspectEnvelopeFile(file: string): Promise<Record<string, unknown>> {
  const bytes = await readEnvelopeBytes(file);
  try {
    return jsonSafe(summarizeEnvelope(decodeEnvelope(bytes, { maxBytes: MAX_ENVELOPE_BYTES }))) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * CBOR diagnostic notation of the whole file, with every `bstr .cbor` member of the envelope
 * (authentication wrapper, manifest, severed members) expanded as `<< … >>`.
 */
export async function diagnosticOfFile(file: string): Promise<string> {
  const bytes = await readEnvelopeBytes(file);
  let v: CborValue;
  try {
    v = decodeCbor(bytes, { maxBytes: MAX_ENVELOPE_BYTES, allowFloats: true });
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
  return diag(expand(v, 0));
}

/** Replace byte strings that hold a well-formed CBOR array/map/tag by an `Embedded` view (printed `<< … >>`). */
function expand(v: unknown, depth: number): unknown {
  if (depth > 12) return v;
  if (v instanceof Uint8Array) {
    if (v.length < 2) return v;
    try {
      const inner = decodeCbor(v, { maxBytes: v.length, allowFloats: false, allowComponentIdKeys: true });
      if (typeof inner === 'object' && inner !== null && !(inner instanceof Uint8Array)) return new Embedded(expand(inner, depth + 1));
    } catch {
      // not CBOR: keep as bytes
    }
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => expand(x, depth + 1));
  if (v instanceof Map) return new Map([...v.entries()].map(([k, x]) => [k, expand(x, depth + 1)]));
  if (v instanceof Tagged) return new TaggedView(v.tag, expand(v.value, depth + 1));
  return v;
}

/** Marker: printed as `<< … >>` (an embedded CBOR item inside a byte string). */
class Embedded {
  constructor(readonly inner: unknown) {}
}
class TaggedView {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

// toDiagnostic does not know Embedded; render it through a small wrapper.
const baseDiag = toDiagnostic;
function diag(v: unknown, indent = ''): string {
  if (v instanceof Embedded) return `<< ${diag(v.inner, indent)} >>`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const inner = indent + '  ';
    return `[\n${v.map((x) => inner + diag(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v instanceof Map) {
    if (v.size === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${[...v.entries()].map(([k, x]) => `${inner}${diag(k, inner)}: ${diag(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  if (v instanceof TaggedView) return `${v.tag}(${diag(v.value, indent)})`;
  return baseDiag(v as CborValue, indent);
}
export { diag as diagnosticOf };

/** Human tree of a summary (generic over its JSON shape, so new summary fields show up too). */
export function renderTree(v: unknown, indent = ''): string {
  const lines: string[] = [];
  const walk = (x: unknown, pad: string, label: string): void => {
    if (x === null || x === undefined) return;
    if (Array.isArray(x)) {
      if (x.length === 0) {
        lines.push(`${pad}${label}: (none)`);
        return;
      }
      if (x.every((e) => typeof e !== 'object' || e === null)) {
        lines.push(`${pad}${label}: ${x.map(String).join(', ')}`);
        return;
      }
      lines.push(`${pad}${label}:`);
      x.forEach((e, i) => walk(e, pad + '  ', `[${i}]`));
      return;
    }
    if (typeof x === 'object') {
      const entries = Object.entries(x as Record<string, unknown>).filter(([, e]) => e !== undefined);
      // A step {offset, command, name, arg} prints on one line.
      const o = x as Record<string, unknown>;
      if ('offset' in o && 'name' in o) {
        lines.push(`${pad}${label} @${String(o.offset)} ${String(o.name)}${o.arg !== undefined ? ` ${JSON.stringify(o.arg)}` : ''}`);
        return;
      }
      lines.push(`${pad}${label}:`);
      for (const [k, e] of entries) walk(e, pad + '  ', k);
      return;
    }
    lines.push(`${pad}${label}: ${String(x)}`);
  };
  for (const [k, e] of Object.entries(v as Record<string, unknown>)) walk(e, indent, k);
  return lines.join('\n');
}
