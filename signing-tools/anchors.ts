/**
 * Trust-anchor statements from the command line (format and rules: docs/trust-anchors.md, owned by
 * manifest/cose; CLI usage: docs/signing.md). Statement N+1 must be signed by the anchor threshold
 * of set N AND of set N+1 (TUF root chain), so signing usually happens on several machines:
 * `build` writes the unsigned payload, each holder runs `sign` (signatures are merged, never
 * removed), and `verify` / `verify-chain` check the result before it ships.
 */
import { createHash } from 'node:crypto';
import {
  UpdateError,
  decodeAnchorStatement,
  decodeCbor,
  decodeSign,
  encodeAnchorStatement,
  encodeSign,
  signAnchorStatement,
  verifyAnchorChain,
  verifyAnchorStatement,
  verifyInitialAnchorSet,
  bytesEqual,
  encodeProtected,
  HEADER,
  ANCHORS_CONTENT_TYPE,
  type AnchorSet,
  type AnchorSetInput,
  type TrustedKey,
  type KeyRole,
} from '../manifest/index.js';
import { readInput, writeFileAtomic } from './fsutil.js';
import { loadSigningKey, loadTrustedKey, prepareKey, type LoadedSigningKey } from './keys.js';

const MAX_STATEMENT = 64 * 1024;

export interface AnchorSetView {
  version: number;
  threshold: number;
  anchorThreshold: number;
  keys: { kid: string; alg: number; roles: KeyRole[] }[];
  revoked: string[];
  owner?: { name: string; previous?: string };
  minSequence?: number;
  previous?: string;
  digest?: string;
}

export function viewOfSet(s: AnchorSet): AnchorSetView {
  return {
    version: s.version,
    threshold: s.threshold,
    anchorThreshold: s.anchorThreshold,
    keys: s.keys.map((k) => ({ kid: k.kid, alg: k.alg, roles: k.roles && k.roles.length ? k.roles : ['firmware'] })),
    revoked: s.revoked,
    ...(s.owner ? { owner: s.owner } : {}),
    ...(s.minSequence !== undefined ? { minSequence: s.minSequence } : {}),
    ...(s.previous !== undefined ? { previous: s.previous } : {}),
    ...(s.digest !== undefined ? { digest: s.digest } : {}),
  };
}

/** A statement file: a signed COSE_Sign statement, or an unsigned payload from `build`. */
export async function readStatement(file: string): Promise<{ signed: boolean; payload: Uint8Array; bytes: Uint8Array; set: AnchorSet }> {
  const bytes = await readInput(file, 'anchor statement', MAX_STATEMENT);
  try {
    if (bytes[0] === 0xd8 && bytes[1] === 0x62) {
      const st = decodeAnchorStatement(bytes);
      return { signed: true, payload: st.payload, bytes, set: st.set };
    }
    // An unsigned payload from `build`.
    decodeCbor(bytes, { maxBytes: MAX_STATEMENT, requireDeterministic: true });
    const set = payloadSet(bytes);
    return { signed: false, payload: bytes, bytes, set };
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Decode an unsigned payload through manifest's statement decoder (its shape and sanity rules), wrapped in a dummy unsigned COSE_Sign. */
function payloadSet(payload: Uint8Array): AnchorSet {
  const fake = encodeSign({ protectedBytes: bodyProtectedOf(), payload, signatures: [{ protectedMap: new Map([[1, -19]]), signature: new Uint8Array(64) }] });
  return decodeAnchorStatement(fake).set;
}

/** The statement body's protected header `{3: "application/suit-anchors+cbor"}` (docs/trust-anchors.md). */
function bodyProtectedOf(): Uint8Array {
  return encodeProtected(new Map([[HEADER.CONTENT_TYPE, ANCHORS_CONTENT_TYPE]]));
}

export interface BuildAnchorOptions {
  /** Previous statement (signed) this one follows; inherits everything not overridden. */
  from?: string;
  version?: number;
  /** Keys allowed to sign firmware manifests. */
  firmwareKeys?: string[];
  /** Keys allowed to sign the next anchor statement. */
  anchorKeys?: string[];
  /** Start from an empty key list instead of the previous set's keys (vendor → owner handover). */
  dropKeys?: boolean;
  /** Key files or kids to remove (not revoked: they may come back later). */
  remove?: string[];
  /** Key files or kids to revoke (removed and never trusted again). */
  revoke?: string[];
  threshold?: number;
  anchorThreshold?: number;
  owner?: string;
  minSequence?: number;
}

async function kidOf(ref: string): Promise<string> {
  if (/^[0-9a-f]{64}$/i.test(ref)) return ref.toLowerCase();
  return (await loadTrustedKey(ref)).kid;
}

/** Build the unsigned payload of a statement. */
export async function buildAnchorPayload(o: BuildAnchorOptions): Promise<{ payload: Uint8Array; set: AnchorSetView }> {
  const prev = o.from ? await readStatement(o.from) : undefined;
  if (prev && !prev.signed) throw new UpdateError('USAGE', `--from ${o.from} is not signed; a statement follows a signed one`);
  const keys = new Map<string, TrustedKey>();
  if (prev && !o.dropKeys) for (const k of prev.set.keys) keys.set(k.kid, { ...k, roles: [...(k.roles ?? ['firmware'])] });
  const given = new Map<string, { key: TrustedKey; roles: Set<KeyRole> }>();
  for (const [files, role] of [[o.firmwareKeys ?? [], 'firmware'], [o.anchorKeys ?? [], 'anchors']] as const) {
    for (const f of files) {
      const k = await loadTrustedKey(f);
      const g = given.get(k.kid) ?? { key: k, roles: new Set<KeyRole>() };
      g.roles.add(role);
      given.set(k.kid, g);
    }
  }
  // A key named on the command line gets exactly the roles named there.
  for (const [kid, g] of given) keys.set(kid, { ...g.key, roles: [...g.roles] });
  for (const r of o.remove ?? []) {
    const kid = await kidOf(r);
    if (!keys.delete(kid)) throw new UpdateError('USAGE', `--remove ${r}: key ${kid} is not in the set`);
  }
  const revoked = new Set(prev?.set.revoked ?? []);
  for (const r of o.revoke ?? []) {
    const kid = await kidOf(r);
    revoked.add(kid);
    keys.delete(kid);
  }
  for (const kid of revoked) if (given.has(kid)) throw new UpdateError('USAGE', `key ${kid} is revoked and cannot be trusted again`);
  const version = o.version ?? (prev ? prev.set.version + 1 : 1);
  const input: AnchorSetInput = {
    version,
    keys: [...keys.values()],
    threshold: o.threshold ?? prev?.set.threshold ?? 1,
    anchorThreshold: o.anchorThreshold ?? prev?.set.anchorThreshold ?? 1,
    revoked: [...revoked].sort(),
  };
  const owner = o.owner !== undefined ? { name: o.owner, ...(prev?.set.owner?.name && prev.set.owner.name !== o.owner ? { previous: prev.set.owner.name } : {}) } : prev?.set.owner;
  if (owner) input.owner = owner;
  const minSeq = o.minSequence ?? prev?.set.minSequence;
  if (minSeq !== undefined) input.minSequence = minSeq;
  if (prev) input.previous = createHash('sha256').update(prev.payload).digest('hex');
  if (input.keys.length === 0) throw new UpdateError('USAGE', 'the set has no keys: give --key / --anchor-key');
  let payload: Uint8Array;
  try {
    payload = encodeAnchorStatement(input);
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError('USAGE', `the statement would be invalid: ${e.message}`, { cause: e });
    throw e;
  }
  return { payload, set: viewOfSet(payloadSet(payload)) };
}

/** Sign a statement (unsigned payload or signed statement) with more keys; signatures are merged, never removed. */
export async function signAnchorFile(input: string, keyFiles: string[], output: string, opts: { passphrase?: string; force?: boolean } = {}): Promise<{ signers: string[]; added: string[]; bytes: Uint8Array }> {
  const st = await readStatement(input);
  const keys: LoadedSigningKey[] = [];
  for (const f of keyFiles) keys.push(await loadSigningKey(f, opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}));
  const existing = st.signed ? decodeSign(st.bytes).signatures : [];
  const already = (k: LoadedSigningKey): boolean => existing.some((s) => s.kid !== undefined && bytesEqual(s.kid, Buffer.from(k.key.kid, 'hex')));
  const sigs = existing.map((s) => ({ protectedBytes: s.protectedBytes, unprotected: s.unprotected, signature: s.signature }));
  const added: string[] = [];
  for (const k of keys) {
    if (already(k) || added.includes(k.key.kid)) continue;
    await prepareKey(k.key); // HSS-LMS: persist the advanced state first
    const one = decodeSign(signAnchorStatement(st.payload, [k.key])).signatures[0]!;
    sigs.push({ protectedBytes: one.protectedBytes, unprotected: one.unprotected, signature: one.signature });
    added.push(k.key.kid);
  }
  if (sigs.length === 0) throw new UpdateError('USAGE', 'no signature to write: give --key');
  const bytes = encodeSign({ protectedBytes: bodyProtectedOf(), payload: st.payload, signatures: sigs });
  decodeAnchorStatement(bytes);
  await writeFileAtomic(output, bytes, { force: (opts.force ?? false) || output === input, what: 'anchor statement' });
  return { signers: sigs.map((s) => Buffer.from((s.unprotected.get(4) as Uint8Array | undefined) ?? new Uint8Array()).toString('hex')), added, bytes };
}

/** Verify one statement: against the current set (a signed statement file), or as an initial set. */
export async function verifyAnchorFile(file: string, current?: string): Promise<AnchorSetView> {
  const st = await readStatement(file);
  if (!st.signed) throw new UpdateError('ANCHOR_CHAIN_BROKEN', `${file} is not signed`);
  try {
    if (current) {
      const cur = await readStatement(current);
      return viewOfSet(verifyAnchorStatement(st.bytes, cur.set));
    }
    return viewOfSet(verifyInitialAnchorSet(st.bytes));
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** `verify-chain START STMT…`: START is checked as an initial set (self-signed), then each statement follows. */
export async function verifyAnchorChainFiles(start: string, statements: string[]): Promise<{ final: AnchorSetView; versions: number[] }> {
  const s0 = await readStatement(start);
  let set: AnchorSet;
  try {
    set = verifyInitialAnchorSet(s0.bytes);
  } catch (e) {
    if (e instanceof UpdateError) throw new UpdateError(e.code, `${start}: ${e.message}`, { cause: e });
    throw e;
  }
  const versions = [set.version];
  for (const f of statements) {
    const st = await readStatement(f);
    try {
      set = verifyAnchorChain(set, [st.bytes]);
    } catch (e) {
      if (e instanceof UpdateError) throw new UpdateError(e.code, `${f}: ${e.message}`, { cause: e });
      throw e;
    }
    versions.push(set.version);
  }
  return { final: viewOfSet(set), versions };
}

/** The set of a statement file (for `verify --anchors`): must be signed; the caller trusts the file. */
export async function readAnchorSet(file: string): Promise<AnchorSet> {
  const st = await readStatement(file);
  if (!st.signed) throw new UpdateError('USAGE', `${file} is an unsigned statement`);
  return st.set;
}
