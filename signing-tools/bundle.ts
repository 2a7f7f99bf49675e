/**
 * Offline bundle: one streamable file with the envelope and its payloads, for USB / air-gapped
 * installs. Format (docs/signing.md, "Bundle format"):
 *
 *   magic      8 bytes  "SUITBNDL"
 *   hlen       4 bytes  big-endian length of the header
 *   header     hlen bytes, deterministic CBOR map
 *                1 => 1                              format version
 *                2 => uint                           envelope length
 *                3 => [ * { ? 1 => tstr uri,         the URI the manifest fetches it from
 *                           2 => uint size,
 *                           3 => SUIT_Digest } ]     digest of the payload bytes
 *   envelope   exactly the released envelope bytes (byte-identical: same digest, same signatures)
 *   payloads   back to back, in header order
 *
 * A reader needs only the header and the envelope in memory; it verifies the envelope before it
 * reads any payload and hashes each payload as it streams it. Bundles are untrusted transport:
 * the signed manifest (its image digests) decides what is installed, never the header.
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { finished } from 'node:stream/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CMD,
  PARAM,
  UpdateError,
  decodeCbor,
  decodeDigest,
  digestEquals,
  encodeCbor,
  getSevered,
  type CborValue,
  type CommandSequence,
  type SuitDigest,
  type SuitEnvelope,
} from '../manifest/index.js';
import { readEnvelopeFile } from './envelope-file.js';
import { fsyncDir, ioError, refuseExisting } from './fsutil.js';
import { hashFile, type ProgressFn } from './hash-file.js';

export const BUNDLE_MAGIC = Buffer.from('SUITBNDL', 'latin1');
export const MAX_BUNDLE_HEADER = 64 * 1024;
export const MAX_BUNDLE_ENVELOPE = 1024 * 1024;

export interface BundleEntry {
  uri?: string;
  size: number;
  digest: SuitDigest;
  /** Byte offset of the payload in the bundle file. */
  offset: number;
}

export interface BundleIndex {
  envelope: Uint8Array;
  entries: BundleEntry[];
}

/** What a manifest fetches: for each fetch directive, the URI and the image digest/size in force. */
export interface FetchTarget {
  component: number;
  uri?: string;
  digest?: SuitDigest;
  size?: number;
  /** true when fetch-arguments are set (a delta transport request). */
  delta: boolean;
}

/**
 * Walk the manifest's sequences (shared before each, try-each branches each from the same start)
 * tracking parameters per component, and record every fetch. A static view used to label payloads,
 * not a processor: conditions are not evaluated.
 */
export function fetchTargets(env: SuitEnvelope): FetchTarget[] {
  const m = env.manifest;
  const out: FetchTarget[] = [];
  type Params = Map<number, Map<number, unknown>>;
  const run = (seq: CommandSequence | undefined, params: Params, current: number[]): number[] => {
    if (!seq) return current;
    let cur = current;
    for (const c of seq.commands) {
      if (c.kind === 'set-component-index') cur = c.index === true ? m.common.components.map((_, i) => i) : Array.isArray(c.index) ? c.index : [c.index];
      else if (c.kind === 'set-parameters') {
        for (const i of cur) {
          const p = params.get(i) ?? new Map<number, unknown>();
          for (const [k, v] of c.params) if (c.code === 20 || !p.has(k)) p.set(k, v);
          params.set(i, p);
        }
      } else if (c.kind === 'try-each') {
        for (const s of c.sequences) run(s, cloneParams(params), cur);
      } else if (c.kind === 'run-sequence') run(c.sequence, params, cur);
      else if (c.kind === 'directive' && c.code === CMD.FETCH) {
        for (const i of cur) {
          const p = params.get(i) ?? new Map<number, unknown>();
          const d = p.get(PARAM.IMAGE_DIGEST);
          const digest = d instanceof Uint8Array ? safeDigest(d) : (d as SuitDigest | undefined);
          const size = p.get(PARAM.IMAGE_SIZE);
          out.push({
            component: i,
            ...(typeof p.get(PARAM.URI) === 'string' ? { uri: p.get(PARAM.URI) as string } : {}),
            ...(digest ? { digest } : {}),
            ...(typeof size === 'number' ? { size } : {}),
            delta: isDeltaArgs(p.get(PARAM.FETCH_ARGUMENTS)),
          });
        }
      }
    }
    return cur;
  };
  const install = m.install ? ('present' in m.install ? m.install.present : getSevered(env, 20)) : undefined;
  const fetch = m.payloadFetch ? ('present' in m.payloadFetch ? m.payloadFetch.present : getSevered(env, 16)) : undefined;
  for (const seq of [fetch, install]) {
    if (!seq) continue;
    const params: Params = new Map();
    const cur = run(m.common.sharedSequence, params, [0]);
    run(seq as CommandSequence, params, cur);
  }
  return out;
}

/** fetch-arguments naming a patch encoding (docs/release-description.md); `{}` is a plain fetch. */
function isDeltaArgs(v: unknown): boolean {
  if (!(v instanceof Uint8Array)) return false;
  try {
    const m = decodeCbor(v);
    return m instanceof Map && m.has(1);
  } catch {
    return true; // not ours: treat as a transport-specific fetch, never as the plain image
  }
}

function cloneParams(p: Map<number, Map<number, unknown>>): Map<number, Map<number, unknown>> {
  return new Map([...p.entries()].map(([k, v]) => [k, new Map(v)]));
}

function safeDigest(b: Uint8Array): SuitDigest | undefined {
  try {
    return decodeDigest(b);
  } catch {
    return undefined;
  }
}

export interface BundleOptions {
  force?: boolean;
  onProgress?: ProgressFn;
}

export interface BundlePayloadSpec {
  file: string;
  /** Explicit URI (for delta patches, whose digest the manifest does not hold). */
  uri?: string;
}

/** "URI=FILE" or "FILE". */
export function parsePayloadArg(arg: string, exists: (f: string) => boolean): BundlePayloadSpec {
  if (exists(arg)) return { file: arg };
  const eq = arg.indexOf('=');
  if (eq > 0) return { uri: arg.slice(0, eq), file: arg.slice(eq + 1) };
  return { file: arg };
}

/** Write a bundle; every payload must be something the manifest fetches (by digest, or by URI). */
export async function createBundle(envelopeFile: string, payloads: BundlePayloadSpec[], output: string, opts: BundleOptions = {}): Promise<{ entries: Omit<BundleEntry, 'offset'>[]; size: number }> {
  const { env, bytes } = await readEnvelopeFile(envelopeFile);
  const targets = fetchTargets(env);
  const entries: (Omit<BundleEntry, 'offset'> & { file: string })[] = [];
  for (const p of payloads) {
    const alg = env.digest.alg;
    const h = await hashFile(p.file, alg, opts.onProgress, 'payload file');
    let uri = p.uri;
    if (uri === undefined) {
      const t = targets.find((x) => !x.delta && x.digest && digestEquals(x.digest, h.digest));
      if (!t) {
        throw new UpdateError(
          'PAYLOAD_DIGEST_MISMATCH',
          `payload ${p.file} matches no image digest the manifest ${envelopeFile} fetches; for a delta patch pass it as URI=FILE`,
        );
      }
      if (t.size !== undefined && t.size !== h.size) throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `payload ${p.file} is ${h.size} bytes, the manifest says ${t.size}`);
      uri = t.uri;
    } else if (!targets.some((t) => t.uri === uri)) {
      throw new UpdateError('USAGE', `URI ${uri} (for ${p.file}) is not fetched by the manifest ${envelopeFile}; known: ${[...new Set(targets.map((t) => t.uri).filter(Boolean))].join(', ') || 'none'}`);
    }
    if (entries.some((e) => e.uri === uri && uri !== undefined)) throw new UpdateError('USAGE', `two payloads for URI ${uri}`);
    entries.push({ ...(uri !== undefined ? { uri } : {}), size: h.size, digest: h.digest, file: p.file });
  }
  const header = encodeCbor(
    new Map<number, CborValue>([
      [1, 1],
      [2, bytes.length],
      [3, entries.map((e) => new Map<number, CborValue>([...(e.uri !== undefined ? [[1, e.uri] as [number, CborValue]] : []), [2, e.size], [3, [e.digest.alg, e.digest.bytes]]]))],
    ]),
  );
  await refuseExisting([output], opts.force ?? false);
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const ws = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
    const write = (b: Uint8Array): Promise<void> => new Promise((res, rej) => ws.write(b, (e) => (e ? rej(e) : res())));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(header.length);
    await write(BUNDLE_MAGIC);
    await write(len);
    await write(header);
    await write(bytes);
    for (const e of entries) {
      let n = 0;
      for await (const chunk of createReadStream(e.file, { highWaterMark: 1 << 20 })) {
        n += (chunk as Buffer).length;
        await write(chunk as Buffer);
      }
      if (n !== e.size) throw new UpdateError('IO_ERROR', `payload ${e.file} changed while the bundle was written`);
    }
    ws.end();
    await finished(ws);
    const fh = await fsp.open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, output);
    await fsyncDir(path.dirname(output));
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof UpdateError) throw e;
    throw ioError(e, 'writing bundle', output);
  }
  const size = 12 + header.length + bytes.length + entries.reduce((s, e) => s + e.size, 0);
  return { entries: entries.map(({ file: _f, ...e }) => e), size };
}

function bundleBad(file: string, what: string): UpdateError {
  return new UpdateError('ENVELOPE_MALFORMED', `bundle ${file}: ${what}`);
}

/** Read the header and the envelope (bounded), not the payloads. */
export async function readBundleIndex(file: string): Promise<BundleIndex> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw ioError(e, 'bundle', file);
  }
  try {
    const st = await fh.stat();
    const head = Buffer.alloc(12);
    if ((await fh.read(head, 0, 12, 0)).bytesRead !== 12 || !head.subarray(0, 8).equals(BUNDLE_MAGIC)) throw bundleBad(file, 'not a SUIT bundle (magic)');
    const hlen = head.readUInt32BE(8);
    if (hlen > MAX_BUNDLE_HEADER) throw new UpdateError('INPUT_TOO_LARGE', `bundle ${file}: header of ${hlen} bytes exceeds ${MAX_BUNDLE_HEADER}`);
    const hb = Buffer.alloc(hlen);
    if ((await fh.read(hb, 0, hlen, 12)).bytesRead !== hlen) throw bundleBad(file, 'truncated header');
    const h = decodeCbor(new Uint8Array(hb), { maxBytes: MAX_BUNDLE_HEADER, maxDepth: 8 });
    if (!(h instanceof Map) || h.get(1) !== 1) throw bundleBad(file, 'unsupported header/version');
    const envLen = h.get(2);
    const list = h.get(3);
    if (typeof envLen !== 'number' || envLen > MAX_BUNDLE_ENVELOPE || !Array.isArray(list)) throw bundleBad(file, 'bad header fields');
    const envelope = new Uint8Array(envLen);
    if ((await fh.read(envelope, 0, envLen, 12 + hlen)).bytesRead !== envLen) throw bundleBad(file, 'truncated envelope');
    let offset = 12 + hlen + envLen;
    const entries: BundleEntry[] = [];
    for (const e of list) {
      if (!(e instanceof Map)) throw bundleBad(file, 'bad payload entry');
      const size = e.get(2);
      const d = e.get(3);
      const uri = e.get(1);
      if (typeof size !== 'number' || !Array.isArray(d) || typeof d[0] !== 'number' || !(d[1] instanceof Uint8Array)) throw bundleBad(file, 'bad payload entry');
      if (uri !== undefined && typeof uri !== 'string') throw bundleBad(file, 'bad payload uri');
      entries.push({ ...(typeof uri === 'string' ? { uri } : {}), size, digest: { alg: d[0], bytes: d[1] }, offset });
      offset += size;
    }
    if (offset !== st.size) throw bundleBad(file, `payload sizes add up to ${offset} bytes but the file has ${st.size}`);
    return { envelope, entries };
  } finally {
    await fh.close();
  }
}

/** Stream one payload of a bundle (the caller hashes it against the signed manifest). */
export function openBundlePayload(file: string, entry: BundleEntry): NodeJS.ReadableStream {
  return createReadStream(file, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1 << 20 });
}

/** Check every payload of a bundle against the digest in its header (streaming). */
export async function checkBundlePayloads(file: string, index: BundleIndex): Promise<void> {
  const { createHasher } = await import('../manifest/index.js');
  for (const e of index.entries) {
    const h = createHasher(e.digest.alg);
    let n = 0;
    if (e.size > 0) {
      for await (const c of openBundlePayload(file, e)) {
        h.update(c as Buffer);
        n += (c as Buffer).length;
      }
    }
    if (n !== e.size || !digestEquals(h.digest(), e.digest)) throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `bundle ${file}: payload ${e.uri ?? '(no uri)'} does not match its digest`);
  }
}

export interface BundleCheck {
  envelopeSize: number;
  signers?: string[];
  payloads: { uri?: string; size: number; offset: number; digest: string; delta: boolean }[];
}

/**
 * Check a bundle: the envelope decodes (and verifies, with keys), every payload matches its header
 * digest, every payload is something the manifest fetches, and a full-image payload's digest is the
 * one the manifest signs for its URI.
 */
export async function checkBundleFile(file: string, opts: { keyFiles?: string[]; threshold?: number } = {}): Promise<BundleCheck> {
  const idx = await readBundleIndex(file);
  const { decodeEnvelope, verifyEnvelope } = await import('../manifest/index.js');
  let env: SuitEnvelope;
  try {
    env = decodeEnvelope(idx.envelope, { maxBytes: MAX_BUNDLE_ENVELOPE });
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `bundle ${file}: envelope: ${e.message}`, { cause: e });
    throw e;
  }
  let signers: string[] | undefined;
  if (opts.keyFiles && opts.keyFiles.length > 0) {
    const { loadTrustedKey } = await import('./keys.js');
    const keys = [];
    for (const f of opts.keyFiles) keys.push(await loadTrustedKey(f));
    try {
      signers = verifyEnvelope(env, keys, { threshold: opts.threshold ?? 1 }).signers;
    } catch (e) {
      if (e instanceof UpdateError) throw new UpdateError(e.code, `bundle ${file}: envelope: ${e.message}`, { cause: e });
      throw e;
    }
  }
  await checkBundlePayloads(file, idx);
  const targets = fetchTargets(env);
  const payloads: BundleCheck['payloads'] = [];
  for (const e of idx.entries) {
    const forUri = targets.filter((t) => t.uri !== undefined && t.uri === e.uri);
    const full = targets.find((t) => !t.delta && t.digest && digestEquals(t.digest, e.digest));
    if (!full && forUri.length === 0) {
      throw new UpdateError('PAYLOAD_DIGEST_MISMATCH', `bundle ${file}: payload ${e.uri ?? '(no uri)'} is nothing the manifest fetches`);
    }
    payloads.push({ ...(e.uri !== undefined ? { uri: e.uri } : {}), size: e.size, offset: e.offset, digest: Buffer.from(e.digest.bytes).toString('hex'), delta: !full });
  }
  return { envelopeSize: idx.envelope.length, ...(signers ? { signers } : {}), payloads };
}
