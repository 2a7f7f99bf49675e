/**
 * The bootloader's state record: one journal record holding everything that must change together.
 *
 * Keeping the phase, the committed anti-rollback counter and the committed security epoch in ONE
 * record is what makes "confirm" atomic: after a cut during confirm the device is either still in
 * trial (old counter, revert possible) or confirmed (new counter, old image no longer needed). Two
 * separate records would open a window where the counter is advanced while the old image may still be
 * reverted to — and then refused (a brick; MCUboot PR #2282 fixed a variant of this).
 *
 * Encoding (little-endian, 40 bytes): v:u8 phase:u8 attempts:u8 lastResult:u8 reason:u8 lastErr:u8
 * units:u16 committedSeq:u64 committedEpoch:u32 candidateSeq:u64 candidateEpoch:u32 pad:u32 ... .
 */
import { UpdateError } from '../manifest/index.js';

export type Phase = 'idle' | 'pending' | 'swapping' | 'trial' | 'reverting' | 'overwriting';
export type LastResult = 'none' | 'updated' | 'reverted' | 'rejected';
export type RevertReason = 'none' | 'not-confirmed' | 'boot-attempts-exhausted' | 'health-check-failed' | 'verification-failed';

const PHASES: Phase[] = ['idle', 'pending', 'swapping', 'trial', 'reverting', 'overwriting'];
const RESULTS: LastResult[] = ['none', 'updated', 'reverted', 'rejected'];
const REASONS: RevertReason[] = ['none', 'not-confirmed', 'boot-attempts-exhausted', 'health-check-failed', 'verification-failed'];

export interface BootState {
  phase: Phase;
  /** Boots of the trial image so far (trial phase). */
  attempts: number;
  /** Units the running swap/revert/overwrite moves. */
  units: number;
  committedSeq: bigint;
  committedEpoch: number;
  /** Sequence number / epoch of the image being installed or on trial. */
  candidateSeq: bigint;
  candidateEpoch: number;
  lastResult: LastResult;
  revertReason: RevertReason;
  /** Report byte of the error that rejected the last candidate (0 = none). */
  lastError: number;
}

export const STATE_KEY = 1;
export const ANCHORS_KEY = 2;
const LEN = 40;

export function initialState(): BootState {
  return {
    phase: 'idle',
    attempts: 0,
    units: 0,
    committedSeq: 0n,
    committedEpoch: 0,
    candidateSeq: 0n,
    candidateEpoch: 0,
    lastResult: 'none',
    revertReason: 'none',
    lastError: 0,
  };
}

export function encodeState(s: BootState): Uint8Array {
  const b = new Uint8Array(LEN);
  const v = new DataView(b.buffer);
  v.setUint8(0, 1);
  v.setUint8(1, PHASES.indexOf(s.phase));
  v.setUint8(2, Math.min(255, s.attempts));
  v.setUint8(3, RESULTS.indexOf(s.lastResult));
  v.setUint8(4, REASONS.indexOf(s.revertReason));
  v.setUint8(5, s.lastError & 0xff);
  v.setUint16(6, s.units, true);
  v.setBigUint64(8, s.committedSeq, true);
  v.setUint32(16, s.committedEpoch, true);
  v.setBigUint64(20, s.candidateSeq, true);
  v.setUint32(28, s.candidateEpoch, true);
  return b;
}

export function decodeState(b: Uint8Array | undefined): BootState {
  if (b === undefined) return initialState();
  if (b.length !== LEN || b[0] !== 1) throw new UpdateError('INTERNAL', 'boot state record has an unknown format');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phase = PHASES[v.getUint8(1)];
  const lastResult = RESULTS[v.getUint8(3)];
  const revertReason = REASONS[v.getUint8(4)];
  if (!phase || !lastResult || !revertReason) throw new UpdateError('INTERNAL', 'boot state record has an unknown value');
  return {
    phase,
    attempts: v.getUint8(2),
    lastResult,
    revertReason,
    lastError: v.getUint8(5),
    units: v.getUint16(6, true),
    committedSeq: v.getBigUint64(8, true),
    committedEpoch: v.getUint32(16, true),
    candidateSeq: v.getBigUint64(20, true),
    candidateEpoch: v.getUint32(28, true),
  };
}
