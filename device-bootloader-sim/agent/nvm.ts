/**
 * The agent's small persistent record (a settings/NVS partition in a C port): which assignment it is
 * working on, how far the candidate slot is written, and which reports are still owed. It is written
 * at page boundaries and at each step, never per received chunk; `writes` counts those records.
 *
 * On a real device the record lives in the same flash as the candidate slot, so a power cut can never
 * leave a record that claims more than the flash holds. The simulated fleet keeps that property by
 * persisting the record *together with* the device's flash in one atomic snapshot (`persist`, see
 * fleet.ts `saveSnapshot`); a bare `file` (the record alone) is only for tools and tests.
 */
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import type { DeltaDecoderState } from '../../delta/index.js';

export type AgentStep = 'downloading' | 'staged' | 'installed' | 'booted' | 'confirmed' | 'failed' | 'reverted';

export interface DownloadProgress {
  kind: 'full' | 'delta';
  /** sha256 of the object being downloaded (payload or patch). */
  sha256: string;
  url: string;
  size: number;
  /** Object bytes consumed and durably written (full: image offset; delta: patch offset of the state). */
  offset: number;
  /** Delta only: decoder state at the last page boundary. */
  decoder?: DeltaDecoderState;
}

export interface AgentRecord {
  assignmentId: string;
  releaseId: string;
  /** Hex of the assignment nonce (reports are bound to it). */
  nonce: string;
  reportUrl: string;
  /** Decimal string: SUIT sequence numbers are uint64, beyond what a JS number holds exactly. */
  sequence: string;
  targetDigest: string;
  step: AgentStep;
  /** The download in flight (absent once staged). */
  download?: DownloadProgress;
  /** Reports posted for this assignment (a lost answer is re-sent; the server treats replays as no-ops). */
  reported: string[];
  failCode?: string;
  /** The new image booted (then `booted` is reported before the final status). */
  booted?: boolean;
}

export interface AgentNvmData {
  v: 1;
  deviceId: string;
  record?: AgentRecord;
  /** Assignments this device gave up on (failed pre-check etc.), so it does not loop on them. */
  done: string[];
}

export interface AgentNvmOptions {
  /** The record alone in a JSON file (atomic rename). */
  file?: string;
  /** Saved data to start from (a restarted device). */
  data?: AgentNvmData;
  /** Called after every commit with the new data: persist it together with the device's flash. */
  persist?: (data: AgentNvmData) => void;
}

export class AgentNvm {
  data: AgentNvmData;
  writes = 0;
  private readonly file: string | undefined;
  private readonly persist: ((data: AgentNvmData) => void) | undefined;
  constructor(deviceId: string, opts: string | AgentNvmOptions = {}) {
    const o: AgentNvmOptions = typeof opts === 'string' ? { file: opts } : opts;
    this.file = o.file;
    this.persist = o.persist;
    this.data = o.data ? structuredClone(o.data) : { v: 1, deviceId, done: [] };
    if (o.file && existsSync(o.file)) this.data = JSON.parse(readFileSync(o.file, 'utf8')) as AgentNvmData;
  }

  get record(): AgentRecord | undefined {
    return this.data.record;
  }

  /** One durable write of the whole record (atomic rename on disk). */
  commit(record: AgentRecord | undefined, opts: { done?: string } = {}): void {
    this.writes++;
    this.data = { ...this.data, ...(record ? { record: structuredClone(record) } : { record: undefined }) };
    if (!record) delete this.data.record;
    if (opts.done && !this.data.done.includes(opts.done)) this.data.done = [...this.data.done.slice(-31), opts.done];
    if (this.file) {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(this.data));
      renameSync(`${this.file}.tmp`, this.file);
    }
    this.persist?.(this.data);
  }
}
