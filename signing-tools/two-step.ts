/**
 * Air-gapped two-step signing (`digest` then `attach`).
 *
 * The request file (REQ) is text: a human summary of what is being signed (vendor, class,
 * sequence number, component image digests, manifest digest, algorithm) in `#` comment lines, then
 * the EXACT bytes to sign — the COSE Sig_structure ["Signature1", <<{1: alg}>>, h'', <SUIT_Digest>]
 * (RFC 9052 §4.4) — in a PEM-style base64 block. `--raw FILE` also writes those bytes as a binary
 * file for an HSM or `openssl pkeyutl`. `attach` verifies the signature made elsewhere over those
 * bytes with the given public key before adding it; nothing unverified is ever attached.
 */
import {
  UpdateError,
  attachSignature,
  checkManifestDigest,
  encodeEnvelope,
  signingInput,
  summarizeEnvelope,
  getAlgorithm,
  type SuitEnvelope,
  type TrustedKey,
} from '../manifest/index.js';
import { readEnvelopeFile, writeEnvelopeFile } from './envelope-file.js';
import { readInput, refuseExisting, writeFileAtomic } from './fsutil.js';
import { loadTrustedKey } from './keys.js';

export const REQUEST_BEGIN = '-----BEGIN SUIT SIGNING REQUEST-----';
export const REQUEST_END = '-----END SUIT SIGNING REQUEST-----';

const ALG_NAMES: Record<string, number> = { ed25519: -19, eddsa: -8, p256: -9, esp256: -9, es256: -7, 'hss-lms': -46 };

export function parseAlgOption(s: string): number {
  const n = ALG_NAMES[s.toLowerCase()] ?? (/^-?\d+$/.test(s) ? Number(s) : undefined);
  if (n === undefined) throw new UpdateError('USAGE', `--alg "${s}" is not one of ${Object.keys(ALG_NAMES).join(', ')} or a COSE algorithm number`);
  getAlgorithm(n);
  return n;
}

export interface SigningRequest {
  alg: number;
  toBeSigned: Uint8Array;
  /** hex of the manifest digest this request is for */
  manifestDigest: string;
  summary: string[];
}

function summaryLines(env: SuitEnvelope, alg: number, file: string): string[] {
  const s = summarizeEnvelope(env) as unknown as Record<string, unknown>;
  const lines = [
    `envelope:        ${file}`,
    `manifest digest: ${(s.digest as { alg: string | number; hex: string }).hex} (${String((s.digest as { alg: unknown }).alg)})`,
    `sequence number: ${String(s.sequenceNumber)}`,
  ];
  if (s.vendorId) lines.push(`vendor id:       ${String(s.vendorId)}`);
  if (s.classId) lines.push(`class id:        ${String(s.classId)}`);
  if (s.referenceUri) lines.push(`reference uri:   ${String(s.referenceUri)}`);
  for (const c of (s.components as Record<string, unknown>[] | undefined) ?? []) {
    const id = Array.isArray(c.id) ? `[${(c.id as string[]).join(', ')}]` : String(c.id);
    const d = c.imageDigest as { alg?: unknown; hex?: string } | string | undefined;
    const dig = typeof d === 'string' ? d : d?.hex ? `${d.hex} (${String(d.alg)})` : 'none';
    lines.push(`component ${String(c.index)} ${id}: image ${dig}${c.imageSize !== undefined ? `, ${String(c.imageSize)} bytes` : ''}${c.uri ? `, ${String(c.uri)}` : ''}`);
  }
  lines.push(`existing signatures: ${env.authBlocks.length}`);
  lines.push(`signature algorithm: ${getAlgorithm(alg).name} (${alg})`);
  return lines;
}

export function encodeRequest(req: SigningRequest): string {
  const b64 = Buffer.from(req.toBeSigned).toString('base64').match(/.{1,64}/g) ?? [];
  return [
    '# suit-sign signing request, version 1',
    '# Check every line below before you sign. You are signing this manifest:',
    ...req.summary.map((l) => `#   ${l}`),
    '# The block below holds the exact bytes to sign (COSE Sig_structure, RFC 9052 §4.4).',
    '# Ed25519: sign the bytes. P-256: ECDSA with SHA-256 over the bytes; raw r||s or DER are both accepted.',
    `alg: ${req.alg}`,
    `manifest-digest: ${req.manifestDigest}`,
    REQUEST_BEGIN,
    ...b64,
    REQUEST_END,
    '',
  ].join('\n');
}

export function decodeRequest(text: string, file = 'signing request'): SigningRequest {
  const alg = /^alg:\s*(-?\d+)\s*$/m.exec(text);
  const md = /^manifest-digest:\s*([0-9a-f]+)\s*$/m.exec(text);
  const block = new RegExp(`${REQUEST_BEGIN}([\\s\\S]*?)${REQUEST_END}`).exec(text);
  if (!alg || !md || !block) throw new UpdateError('USAGE', `${file} is not a suit-sign signing request`);
  return {
    alg: Number(alg[1]),
    manifestDigest: md[1]!,
    toBeSigned: new Uint8Array(Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64')),
    summary: text.split('\n').filter((l) => l.startsWith('#   ')).map((l) => l.slice(4)),
  };
}

export function makeSigningRequest(env: SuitEnvelope, alg: number, file = 'envelope'): SigningRequest {
  checkManifestDigest(env);
  return {
    alg,
    toBeSigned: signingInput(env, alg),
    manifestDigest: Buffer.from(env.digest.bytes).toString('hex'),
    summary: summaryLines(env, alg, file),
  };
}

export interface DigestFileOptions {
  alg?: number;
  pub?: string;
  raw?: string;
  force?: boolean;
}

/** `digest IN -o REQ`: write the request (and optionally the raw bytes). */
export async function writeSigningRequest(input: string, output: string, opts: DigestFileOptions = {}): Promise<SigningRequest> {
  const { env } = await readEnvelopeFile(input);
  let alg = opts.alg;
  if (opts.pub) {
    const k = await loadTrustedKey(opts.pub);
    if (alg !== undefined && getAlgorithm(alg).keyType !== k.kty) throw new UpdateError('USAGE', `--alg ${alg} does not fit the ${k.kty} key ${opts.pub}`);
    alg ??= k.alg;
  }
  const req = makeSigningRequest(env, alg ?? -9, input);
  await refuseExisting([output, ...(opts.raw ? [opts.raw] : [])], opts.force ?? false);
  await writeFileAtomic(output, encodeRequest(req), { force: opts.force ?? false, what: 'signing request' });
  if (opts.raw) await writeFileAtomic(opts.raw, req.toBeSigned, { force: opts.force ?? false, what: 'raw signing input' });
  return req;
}

/** DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) → raw r||s of `size` bytes each. */
export function derToRawEcdsa(der: Uint8Array, size = 32): Uint8Array | undefined {
  if (der[0] !== 0x30) return undefined;
  let p = 2;
  if (der[1]! & 0x80) p = 2 + (der[1]! & 0x7f);
  const ints: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[p] !== 0x02) return undefined;
    const len = der[p + 1]!;
    let v = der.subarray(p + 2, p + 2 + len);
    p += 2 + len;
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) return undefined;
    const padded = new Uint8Array(size);
    padded.set(v, size - v.length);
    ints.push(padded);
  }
  if (p !== der.length) return undefined;
  return new Uint8Array([...ints[0]!, ...ints[1]!]);
}

/** Signature file: binary, base64 or hex; P-256 DER is converted to raw r||s. */
export function normalizeSignature(raw: Uint8Array, pub: TrustedKey): Uint8Array {
  let sig = raw;
  const text = Buffer.from(raw).toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 && text.length >= 64) sig = new Uint8Array(Buffer.from(text, 'hex'));
  else if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.length >= 64 && !/[^\x20-\x7e\s]/.test(text)) sig = new Uint8Array(Buffer.from(text, 'base64'));
  if (pub.kty === 'EC2' && sig.length !== 64) {
    const r = derToRawEcdsa(sig);
    if (r) sig = r;
  }
  return sig;
}

export interface AttachFileOptions {
  alg?: number;
  request?: string;
  force?: boolean;
}

export async function attachSignatureFile(input: string, sigFile: string, pubFile: string, output: string, opts: AttachFileOptions = {}): Promise<{ envelope: Uint8Array; kid: string; alg: number; blocks: number }> {
  const { env } = await readEnvelopeFile(input);
  const pub = await loadTrustedKey(pubFile);
  let alg = opts.alg;
  if (opts.request) {
    const req = decodeRequest(Buffer.from(await readInput(opts.request, 'signing request')).toString('utf8'), opts.request);
    if (req.manifestDigest !== Buffer.from(env.digest.bytes).toString('hex')) {
      throw new UpdateError('MANIFEST_DIGEST_MISMATCH', `signing request ${opts.request} was made for another manifest than ${input}`);
    }
    if (alg !== undefined && alg !== req.alg) throw new UpdateError('USAGE', `--alg ${alg} differs from the request's alg ${req.alg}`);
    alg = req.alg;
  }
  const sig = normalizeSignature(await readInput(sigFile, 'signature file', 1024 * 1024), pub);
  await refuseExisting(input === output ? [] : [output], opts.force ?? false);
  let out: SuitEnvelope;
  try {
    out = attachSignature(env, pub, sig, alg !== undefined ? { alg } : {});
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${sigFile}: ${e.message}; nothing was attached`, { cause: e });
    throw e;
  }
  const envelope = encodeEnvelope(out);
  await writeEnvelopeFile(output, envelope, (opts.force ?? false) || input === output);
  return { envelope, kid: pub.kid, alg: alg ?? pub.alg, blocks: out.authBlocks.length };
}
