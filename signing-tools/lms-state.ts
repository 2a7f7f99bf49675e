/**
 * State of a stateful hash-based (HSS-LMS, RFC 8554) signing key.
 *
 * An LMS one-time key used twice lets anyone forge signatures (RFC 8554 §9 "the signer MUST NOT
 * reuse a one-time key"). So the signing tool:
 *  1. persists the advanced state BEFORE a signature leaves the process (write temp + fsync + rename,
 *     then the journal), so a crash can only waste an index, never reuse one;
 *  2. refuses a state it cannot advance (exhausted, unreadable, for another key);
 *  3. refuses a state that looks copied or restored. The state file carries a random `stateId` and
 *     the counter `next`; every advance appends `{stateId, next, ino, dev}` to a sidecar journal.
 *     - state.next < journal.next: an older copy (backup restore) → SIGNER_STATE_INVALID;
 *     - same counter but another inode/device: the pair was copied (e.g. to a second machine,
 *       where both copies would hand out the same indexes) → SIGNER_STATE_INVALID;
 *     - state.next > journal.next: a crash between the rename and the journal append; harmless
 *       (indexes only move forward) and repaired on this advance.
 *  A lock file (`.lock`, O_EXCL) serialises concurrent signers on one machine.
 *  `adoptLmsState` re-binds a state to its current file after an intentional move (the operator
 *  asserts the old copy is destroyed).
 */
import { promises as fsp, constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { UpdateError } from '../manifest/index.js';
import { fsyncDir, ioError, writeFileAtomic } from './fsutil.js';

export const LMS_STATE_FORMAT = 'suit-sign/hss-lms-state';

export interface LmsState {
  format: typeof LMS_STATE_FORMAT;
  version: 1;
  /** Key id (thumbprint) of the key this state belongs to. */
  kid: string;
  /** Random id created with the key; also recorded in the journal. */
  stateId: string;
  /** Index of the next unused one-time signature (= signatures issued so far). */
  next: number;
  /** Total number of signatures of the key. */
  total: number;
}

interface JournalEntry {
  stateId: string;
  next: number;
  ino: number;
  dev: number;
  time: string;
}

export const journalPathFor = (statePath: string): string => `${statePath}.journal`;

function parseState(text: string, file: string): LmsState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UpdateError('SIGNER_STATE_INVALID', `state file ${file} is not valid JSON`);
  }
  const s = v as Partial<LmsState>;
  if (
    s?.format !== LMS_STATE_FORMAT ||
    s.version !== 1 ||
    typeof s.kid !== 'string' ||
    typeof s.stateId !== 'string' ||
    !/^[0-9a-f]{32}$/.test(s.stateId) ||
    !Number.isSafeInteger(s.next) ||
    !Number.isSafeInteger(s.total) ||
    s.next! < 0 ||
    s.total! <= 0
  ) {
    throw new UpdateError('SIGNER_STATE_INVALID', `state file ${file} is not an HSS-LMS state of suit-sign`);
  }
  return s as LmsState;
}

async function readJournal(statePath: string): Promise<JournalEntry | undefined> {
  const jp = journalPathFor(statePath);
  let text: string;
  try {
    text = await fsp.readFile(jp, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(e, 'state journal', jp);
  }
  let last: JournalEntry | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (typeof e.stateId === 'string' && Number.isSafeInteger(e.next)) last = e;
    } catch {
      // A torn last line after a crash: the entries before it still count.
    }
  }
  return last;
}

async function appendJournal(statePath: string, entry: JournalEntry): Promise<void> {
  const jp = journalPathFor(statePath);
  try {
    const fh = await fsp.open(jp, C.O_WRONLY | C.O_APPEND | C.O_CREAT, 0o600);
    try {
      await fh.write(JSON.stringify(entry) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw ioError(e, 'writing state journal', jp);
  }
}

async function record(statePath: string, s: LmsState): Promise<void> {
  const st = await fsp.stat(statePath);
  await appendJournal(statePath, { stateId: s.stateId, next: s.next, ino: st.ino, dev: st.dev, time: new Date().toISOString() });
}

/** Create the state and its journal for a new key (refuses to overwrite unless `force`). */
export async function createLmsState(statePath: string, kid: string, total: number, force = false): Promise<LmsState> {
  const s: LmsState = { format: LMS_STATE_FORMAT, version: 1, kid, stateId: randomBytes(16).toString('hex'), next: 0, total };
  await writeFileAtomic(statePath, JSON.stringify(s, null, 2) + '\n', { mode: 0o600, force, what: 'HSS-LMS state file' });
  if (force) await fsp.rm(journalPathFor(statePath), { force: true });
  await record(statePath, s);
  await fsyncDir(statePath.replace(/[^/\\]*$/, '') || '.');
  return s;
}

/** Read and check a state without advancing it. */
export async function loadLmsState(statePath: string, kid?: string): Promise<LmsState & { remaining: number }> {
  let text: string;
  try {
    text = await fsp.readFile(statePath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS state file ${statePath} is missing; a stateful key cannot sign without it`);
    }
    throw ioError(e, 'HSS-LMS state file', statePath);
  }
  const s = parseState(text, statePath);
  if (kid !== undefined && s.kid !== kid) {
    throw new UpdateError('SIGNER_STATE_INVALID', `state file ${statePath} belongs to key ${s.kid}, not to key ${kid}`);
  }
  const j = await readJournal(statePath);
  if (!j) throw new UpdateError('SIGNER_STATE_INVALID', `state journal ${journalPathFor(statePath)} is missing: cannot tell whether ${statePath} is current or a copy`);
  if (j.stateId !== s.stateId) {
    throw new UpdateError('SIGNER_STATE_INVALID', `state file ${statePath} (state id ${s.stateId}) does not match its journal (state id ${j.stateId})`);
  }
  if (s.next < j.next) {
    throw new UpdateError(
      'SIGNER_STATE_INVALID',
      `state file ${statePath} is stale: it says ${s.next} signatures were used but the journal records ${j.next} (a restored or copied state would reuse one-time keys)`,
      { details: { state: s.next, journal: j.next } },
    );
  }
  if (s.next === j.next) {
    const st = await fsp.stat(statePath);
    if (st.ino !== j.ino || st.dev !== j.dev) {
      throw new UpdateError(
        'SIGNER_STATE_INVALID',
        `state file ${statePath} looks copied: it is not the file the journal recorded (inode ${st.ino} vs ${j.ino}); if you moved the key on purpose and destroyed every other copy, run \`suit-sign lms-state adopt\``,
      );
    }
  }
  return { ...s, remaining: Math.max(0, s.total - s.next) };
}

/**
 * Reserve the next one-time-signature index: check, persist the advanced state, journal it, and
 * only then return the index to sign with.
 */
export async function reserveLmsIndex(statePath: string, kid?: string): Promise<{ index: number; remaining: number; total: number }> {
  const release = await lockState(statePath);
  try {
    return await reserveLocked(statePath, kid);
  } finally {
    await release();
  }
}

export const lockPathFor = (statePath: string): string => `${statePath}.lock`;

/**
 * Exclusive lock (O_EXCL lock file) around read-check-advance, so two suit-sign processes on the
 * same machine can never read the same counter. A lock left by a crash is not broken automatically:
 * the operator removes it after checking that no other suit-sign runs.
 */
async function lockState(statePath: string): Promise<() => Promise<void>> {
  const lp = lockPathFor(statePath);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(lp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const holder = await fsp.readFile(lp, 'utf8').catch(() => '');
      throw new UpdateError(
        'SIGNER_STATE_INVALID',
        `HSS-LMS state ${statePath} is locked by another suit-sign (${holder.trim() || 'unknown'}); if none is running (a crash), delete ${lp}`,
      );
    }
    throw ioError(e, 'HSS-LMS state lock', lp);
  }
  try {
    await fh.write(`pid ${process.pid} since ${new Date().toISOString()}\n`);
  } finally {
    await fh.close();
  }
  return async () => {
    await fsp.rm(lp, { force: true });
  };
}

async function reserveLocked(statePath: string, kid?: string): Promise<{ index: number; remaining: number; total: number }> {
  const s = await loadLmsState(statePath, kid);
  if (s.next >= s.total) {
    throw new UpdateError('SIGNER_STATE_EXHAUSTED', `HSS-LMS key ${s.kid} has used all ${s.total} signatures (state ${statePath})`);
  }
  const advanced: LmsState = { format: s.format, version: s.version, kid: s.kid, stateId: s.stateId, next: s.next + 1, total: s.total };
  try {
    await writeFileAtomic(statePath, JSON.stringify(advanced, null, 2) + '\n', { mode: 0o600, force: true, what: 'HSS-LMS state file' });
    await record(statePath, advanced);
  } catch (e) {
    // Not persisted → no signature: the index may be lost (safe), never handed out unrecorded.
    throw new UpdateError('SIGNER_STATE_INVALID', `HSS-LMS state ${statePath} cannot be advanced (${(e as Error).message}); nothing was signed`, { cause: e });
  }
  return { index: s.next, remaining: s.total - advanced.next, total: s.total };
}

/** After an intentional move: bind the journal to the state file where it is now. */
export async function adoptLmsState(statePath: string): Promise<LmsState> {
  let text: string;
  try {
    text = await fsp.readFile(statePath, 'utf8');
  } catch (e) {
    throw ioError(e, 'HSS-LMS state file', statePath);
  }
  const s = parseState(text, statePath);
  const j = await readJournal(statePath);
  if (j && (j.stateId !== s.stateId || s.next < j.next)) {
    throw new UpdateError('SIGNER_STATE_INVALID', `state file ${statePath} is older than or unrelated to its journal; it cannot be adopted`);
  }
  await record(statePath, s);
  return s;
}
