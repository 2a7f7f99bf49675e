/** Reading and writing envelope files: binary CBOR, or hex text (the shared vectors are hex). */
import { UpdateError, decodeEnvelope, type SuitEnvelope } from '../manifest/index.js';
import { readInput, writeFileAtomic } from './fsutil.js';

/** Envelopes larger than this are refused before decoding (payloads travel outside the envelope). */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;

/** Bytes of an envelope file; a file of only hex digits and whitespace is decoded as hex. */
export async function readEnvelopeBytes(file: string): Promise<Uint8Array> {
  const raw = await readInput(file, 'envelope file', 4 * MAX_ENVELOPE_BYTES);
  return maybeHex(raw, file);
}

export function maybeHex(raw: Uint8Array, file = 'input'): Uint8Array {
  if (raw.length === 0) throw new UpdateError('ENVELOPE_MALFORMED', `${file} is empty`);
  const text = Buffer.from(raw).toString('latin1');
  if (/^[0-9a-fA-F\s]+$/.test(text)) {
    const clean = text.replace(/\s+/g, '');
    if (clean.length % 2 === 0) return new Uint8Array(Buffer.from(clean, 'hex'));
  }
  if (/^\s*\d+\s*\(\s*\{/.test(text) || /^\s*\/.*\/\s*\d*\s*\(/.test(text)) {
    throw new UpdateError('USAGE', `${file} is CBOR diagnostic notation (text), not CBOR; pass the binary or .hex file instead`);
  }
  return raw;
}

export async function readEnvelopeFile(file: string): Promise<{ env: SuitEnvelope; bytes: Uint8Array }> {
  const bytes = await readEnvelopeBytes(file);
  try {
    return { env: decodeEnvelope(bytes, { maxBytes: MAX_ENVELOPE_BYTES }), bytes };
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e, ...(e.details ? { details: e.details } : {}) });
    throw e;
  }
}

export async function writeEnvelopeFile(file: string, bytes: Uint8Array, force: boolean): Promise<void> {
  await writeFileAtomic(file, bytes, { force, what: 'output envelope' });
}
