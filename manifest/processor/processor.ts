/**
 * The SUIT manifest processor: an interpreter of command sequences (draft-ietf-suit-manifest-37 §6,
 * trust-domains §6, update-management §4) over an abstract `Platform`.
 *
 * Order of work (§6.1, §6.2): manifest-version == 1 → strict rollback check of the sequence number →
 * component count check → for each requested section: clear nothing, run the shared sequence, run the
 * section. Parameter storage is cleared once per manifest run (§6.3) and persists across sections.
 *
 * Signatures are NOT checked here: call `verifyEnvelope` first (§6.2 "verify before executing").
 *
 * A manifest that fails never makes the processor throw: the failure is the `error` of the result and the
 * failing record of the report. Only misuse (no sections, unknown section name) throws.
 */
import { Tagged, bytesEqual, encodeCbor, type CborValue } from '../cbor.js';
import { UpdateError, toUpdateError, type ErrorCode } from '../errors.js';
import { CMD, MAN, PARAM, REP, REPORT_REASON } from '../keys.js';
import type { Command, CommandSequence, ComponentId, ParameterMap, ParamValue, SuitDigest, SuitManifest, VersionMatch } from '../model.js';
import { checkManifestDigest, decodeEnvelope } from '../envelope/index.js';
import { commandName, SECTIONS, sectionName, type SectionName } from './names.js';
import type { CommandContext, IdentityValue, Platform } from './platform.js';
import type { SuitRecord, SuitReport, SuitSystemProperties } from './report.js';
import { componentIdKey } from './platform.js';

/** Rollback policy (§6.2 / RFC 9124 REQ.SEC.MFST.CHECK... "Monotonic Sequence Number"). */
export interface RollbackPolicy {
  /** Sequence number of the manifest currently installed. */
  installed: bigint | number;
  /**
   * Accept a manifest with the same sequence number (re-running validate/load/invoke of the installed
   * manifest). Must be false when installing.
   */
  allowEqual: boolean;
}

export interface ProcessorOptions {
  /** Sections to run, in order (each preceded by the shared sequence). */
  sections: SectionName[];
  /** Strict rollback check: sequence number must be > installed (≥ with allowEqual). */
  rollback?: RollbackPolicy;
  /** Contract shorthand for `rollback: { installed, allowEqual: false }`. Ignored when `rollback` is given. */
  installedSequenceNumber?: bigint | number;
  /** Maximum number of command executions (each per-component execution counts). Default 10 000. */
  maxSteps?: number;
  /** Maximum number of components (including dependency indices). Default 64. */
  maxComponents?: number;
  /** Path of this manifest in the dependency tree, for records. Default `[]` (root). */
  manifestId?: number[];
  /** Nonce echoed in the report. */
  nonce?: Uint8Array;
  /** Record every condition/directive regardless of the reporting-policy bits. Default false. */
  recordAll?: boolean;
  /**
   * process-dependency requires that dependency-integrity (or a dependency image-match) passed earlier in
   * this run (trust-domains §6.5). Default true. libcsuit's `expD` vector skips it and relies on
   * process-dependency authenticating the dependency; pass false to interoperate with such manifests.
   */
  requireDependencyIntegrity?: boolean;
  /**
   * Authentication step (§6.2: after the version and rollback checks, before anything else runs), e.g.
   * `() => verifyEnvelope(env, anchors)`. A throw ends processing with that error in the report
   * (record section 0 = envelope level, reason unauthorised for signature codes).
   */
  authenticate?: () => unknown;
  /** Integrated payloads (URI → bytes): fetch of such a URI writes them instead of calling platform.fetch. */
  integrated?: ReadonlyMap<string, Uint8Array>;
  /** Manifest digest (SUIT_Authentication[0]) for the report reference (all-zero SHA-256 when absent). */
  manifestDigest?: SuitDigest;
  /**
   * Resolve a severed section (key → command sequence). `processEnvelope` supplies one that checks the
   * severed member against its digest; when absent, a severed section fails with SEVERED_MEMBER_MISSING.
   */
  resolveSevered?: (key: number) => CommandSequence;
}

/** One executed (or attempted) command, for tools and tests. */
export interface TraceEntry {
  section: number;
  /** true while running the shared sequence before `section`. */
  shared: boolean;
  offset: number;
  componentIndex: number;
  code: number;
  name: string;
  outcome: 'ok' | 'condition-failed' | 'error' | 'skipped-soft';
  errorCode?: ErrorCode;
}

export interface ProcessResult {
  ok: boolean;
  report: SuitReport;
  error?: UpdateError;
  trace: TraceEntry[];
}

export const DEFAULT_MAX_STEPS = 10_000;
export const DEFAULT_MAX_COMPONENTS = 64;
/** Largest dependency envelope read for image-match (the envelope decode limit). */
const DEPENDENCY_MAX_BYTES = 64 * 1024;

/** A condition failure: terminates the current sequence; soft-failure decides whether it spreads. */
class ConditionFailure extends Error {
  constructor(readonly error: UpdateError) {
    super(error.message);
  }
}
/** Any other failure: aborts processing regardless of soft-failure. Carries the record where it happened. */
class Abort extends Error {
  constructor(
    readonly error: UpdateError,
    readonly record: SuitRecord,
  ) {
    super(error.message);
  }
}

/** A frame per executing command sequence (soft-failure scoping, §6.4 / §8.4.8.14). */
interface Frame {
  /** 'top' = a section or the shared sequence; 'try-each' branch; 'run-sequence' argument. */
  kind: 'top' | 'try-each' | 'run-sequence';
  bytes: Uint8Array;
}

const ID_CONDITIONS: Record<number, { param: number; code: ErrorCode; which: 'vendorIds' | 'classIds' | 'deviceIds' }> = {
  [CMD.VENDOR_IDENTIFIER]: { param: PARAM.VENDOR_IDENTIFIER, code: 'VENDOR_MISMATCH', which: 'vendorIds' },
  [CMD.CLASS_IDENTIFIER]: { param: PARAM.CLASS_IDENTIFIER, code: 'CLASS_MISMATCH', which: 'classIds' },
  [CMD.DEVICE_IDENTIFIER]: { param: PARAM.DEVICE_IDENTIFIER, code: 'DEVICE_MISMATCH', which: 'deviceIds' },
};

/** Parameters each command consumes: they are the `properties` of its record. */
const COMMAND_PARAMS: Record<number, number[]> = {
  [CMD.VENDOR_IDENTIFIER]: [PARAM.VENDOR_IDENTIFIER],
  [CMD.CLASS_IDENTIFIER]: [PARAM.CLASS_IDENTIFIER],
  [CMD.DEVICE_IDENTIFIER]: [PARAM.DEVICE_IDENTIFIER],
  [CMD.IMAGE_MATCH]: [PARAM.IMAGE_DIGEST, PARAM.IMAGE_SIZE],
  [CMD.IMAGE_NOT_MATCH]: [PARAM.IMAGE_DIGEST, PARAM.IMAGE_SIZE],
  [CMD.USE_BEFORE]: [PARAM.USE_BEFORE],
  [CMD.COMPONENT_SLOT]: [PARAM.COMPONENT_SLOT],
  [CMD.CHECK_CONTENT]: [PARAM.CONTENT],
  [CMD.DEPENDENCY_INTEGRITY]: [PARAM.IMAGE_DIGEST],
  [CMD.MINIMUM_BATTERY]: [PARAM.MINIMUM_BATTERY],
  [CMD.UPDATE_AUTHORIZED]: [PARAM.UPDATE_PRIORITY],
  [CMD.VERSION]: [PARAM.VERSION],
  [CMD.FETCH]: [PARAM.URI],
  [CMD.WRITE]: [],
  [CMD.COPY]: [PARAM.SOURCE_COMPONENT],
  [CMD.SWAP]: [PARAM.SOURCE_COMPONENT],
  [CMD.INVOKE]: [PARAM.INVOKE_ARGS],
  [CMD.WAIT]: [PARAM.WAIT_INFO],
};

/** Commands allowed in the shared sequence (§8.4.5: no side effects except parameter setting). */
const SHARED_ALLOWED_DIRECTIVES = new Set<number>([
  CMD.SET_COMPONENT_INDEX,
  CMD.TRY_EACH,
  CMD.RUN_SEQUENCE,
  CMD.SET_PARAMETERS,
  CMD.OVERRIDE_PARAMETERS,
  CMD.OVERRIDE_MULTIPLE,
  CMD.COPY_PARAMS,
]);

/** Map an error-table code to a SUIT_Report result-reason. */
export function reasonFor(code: ErrorCode, isCondition: boolean): number {
  switch (code) {
    case 'COMMAND_UNSUPPORTED':
      return REPORT_REASON.COMMAND_UNSUPPORTED;
    case 'COMPONENT_UNKNOWN':
      return REPORT_REASON.COMPONENT_UNSUPPORTED;
    case 'SEVERED_MEMBER_MISSING':
      return REPORT_REASON.SEVERING_UNSUPPORTED;
    case 'DIGEST_ALGORITHM_UNSUPPORTED':
    case 'ALGORITHM_UNSUPPORTED':
      return REPORT_REASON.ALG_UNSUPPORTED;
    case 'ROLLBACK_REJECTED':
    case 'SIGNATURE_INVALID':
    case 'KEY_UNTRUSTED':
    case 'KEY_REVOKED':
    case 'AUTH_MISSING':
    case 'SIGNATURE_THRESHOLD_NOT_MET':
      return REPORT_REASON.UNAUTHORISED;
    case 'CBOR_MALFORMED':
    case 'MANIFEST_MALFORMED':
    case 'ENVELOPE_MALFORMED':
    case 'MANIFEST_VERSION_UNSUPPORTED':
      return REPORT_REASON.CBOR_PARSE;
    case 'COSE_MALFORMED':
      return REPORT_REASON.COSE_UNSUPPORTED;
    case 'VENDOR_MISMATCH':
    case 'CLASS_MISMATCH':
    case 'DEVICE_MISMATCH':
    case 'IMAGE_MISMATCH':
    case 'CONDITION_FAILED':
      return REPORT_REASON.CONDITION_FAILED;
    default:
      return isCondition ? REPORT_REASON.CONDITION_FAILED : REPORT_REASON.OPERATION_FAILED;
  }
}

function toBig(v: ParamValue | number | bigint): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  return undefined;
}

/** Binary match of an identifier parameter against one device identity (§8.4.9.1: exact bytes). */
function identityMatches(param: ParamValue, id: IdentityValue): boolean {
  if (param instanceof Uint8Array && id instanceof Uint8Array) return bytesEqual(param, id);
  if (param instanceof Tagged && id instanceof Tagged) {
    return bytesEqual(encodeCbor(param as CborValue), encodeCbor(id as CborValue));
  }
  return false;
}

/** Constant-time equality for equal-length byte strings; lengths are not secret. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function digestsEqual(a: SuitDigest, b: SuitDigest): boolean {
  return a.alg === b.alg && constantTimeEqual(a.bytes, b.bytes);
}

function isDigest(v: unknown): v is SuitDigest {
  return typeof v === 'object' && v !== null && 'alg' in v && 'bytes' in v && (v as SuitDigest).bytes instanceof Uint8Array;
}
function isVersionMatch(v: unknown): v is VersionMatch {
  return typeof v === 'object' && v !== null && 'cmp' in v && Array.isArray((v as VersionMatch).version);
}

/**
 * update-management version match: compare pairwise, stopping when the manifest's array is exhausted or
 * at the first difference; a missing element of the installed version counts as 0 (so release 1.2 = [1,2]
 * is above 1.2-rc.3 = [1,2,-1,3] and `==[1]` matches 1.x.y).
 */
export function versionMatches(current: readonly number[], match: VersionMatch): boolean {
  let c = 0;
  for (let i = 0; i < match.version.length; i++) {
    const have = current[i] ?? 0;
    const want = match.version[i]!;
    if (have !== want) {
      c = have < want ? -1 : 1;
      break;
    }
  }
  switch (match.cmp) {
    case 1:
      return c > 0;
    case 2:
      return c >= 0;
    case 3:
      return c === 0;
    case 4:
      return c <= 0;
    case 5:
      return c < 0;
    default:
      return false;
  }
}

export class Processor {
  private readonly platform: Platform;
  private readonly manifest: SuitManifest;
  private readonly opts: ProcessorOptions;
  private readonly maxSteps: number;
  private readonly manifestId: number[];

  /** Component ids by index: suit-components, then dependency indices beyond them (prefix as id). */
  private componentIds: (ComponentId | undefined)[] = [];
  private params: ParameterMap[] = [];
  private softFailure = false;
  private softFailureSet = false;
  private strictOrder = true;
  private strictOrderSet = false;
  private steps = 0;
  private verifiedDependencies = new Set<number>();

  private section = 0;
  private inShared = false;
  readonly records: SuitRecord[] = [];
  /** system-property-claims per component (one entry per component; later values replace earlier ones). */
  readonly systemProperties = new Map<string, SuitSystemProperties>();
  readonly trace: TraceEntry[] = [];

  constructor(manifest: SuitManifest, platform: Platform, options: ProcessorOptions) {
    if (!Array.isArray(options.sections) || options.sections.length === 0) {
      throw new UpdateError('USAGE', 'Processor: options.sections must name at least one section');
    }
    for (const s of options.sections) {
      if (!(s in SECTIONS)) throw new UpdateError('USAGE', `Processor: unknown section "${String(s)}"`);
    }
    this.manifest = manifest;
    this.platform = platform;
    this.opts = options;
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.manifestId = options.manifestId ?? [];
  }

  private started = false;

  /** Run the requested sections. Never throws for a failing manifest. A Processor runs once. */
  async run(): Promise<ProcessResult> {
    if (this.started) throw new UpdateError('USAGE', 'Processor.run() may be called once; create a new Processor');
    this.started = true;
    let error: UpdateError | undefined;
    let failRecord: SuitRecord | undefined;
    let failIsCondition = false;
    try {
      this.checkVersionAndRollback();
      if (this.opts.authenticate) {
        try {
          await this.opts.authenticate();
        } catch (e) {
          throw new Abort(toUpdateError(e, 'SIGNATURE_INVALID'), this.bareRecord(0));
        }
      }
      this.checkComponents();
      for (const name of this.opts.sections) {
        const key = SECTIONS[name];
        const seq = this.sectionSequence(key);
        if (seq === undefined) continue;
        this.section = key;
        this.resetSelection();
        if (this.manifest.common.sharedSequence) {
          this.inShared = true;
          await this.runTop(this.manifest.common.sharedSequence);
          this.inShared = false;
        }
        await this.runTop(seq);
      }
    } catch (e) {
      if (e instanceof Abort) {
        error = e.error;
        failRecord = e.record;
      } else if (e instanceof ConditionFailure) {
        error = e.error;
        failIsCondition = true;
        failRecord = (e.error.details?.record as SuitRecord | undefined) ?? this.bareRecord(this.section);
      } else {
        error = toUpdateError(e);
        failRecord = this.bareRecord(this.section);
      }
    }
    const report: SuitReport = {
      reference: {
        uri: this.manifest.referenceUri ?? '',
        digest: this.opts.manifestDigest ?? { alg: -16, bytes: new Uint8Array(32) },
      },
      records: this.records,
      ...(this.systemProperties.size > 0 ? { systemProperties: [...this.systemProperties.values()] } : {}),
      result:
        error === undefined
          ? true
          : { code: error.reportCode, record: failRecord ?? this.bareRecord(this.section), reason: reasonFor(error.code, failIsCondition || (error.details?.condition as boolean) === true) },
    };
    if (this.opts.nonce !== undefined) report.nonce = this.opts.nonce;
    return error === undefined ? { ok: true, report, trace: this.trace } : { ok: false, report, error, trace: this.trace };
  }

  // ------------------------------------------------------------------ §6.1/6.2 checks

  private checkVersionAndRollback(): void {
    const m = this.manifest;
    if (m.version !== 1) {
      throw new Abort(new UpdateError('MANIFEST_VERSION_UNSUPPORTED', `suit-manifest-version is ${String(m.version)}, only 1 is supported`), this.bareRecord(MAN.VERSION));
    }
    const policy: RollbackPolicy | undefined =
      this.opts.rollback ?? (this.opts.installedSequenceNumber !== undefined ? { installed: this.opts.installedSequenceNumber, allowEqual: false } : undefined);
    if (policy !== undefined) {
      // §6.2 / RFC 9124 (monotonic sequence number): strictly higher, or equal only when explicitly allowed.
      const seq = BigInt(m.sequenceNumber);
      const inst = BigInt(policy.installed);
      if (seq < inst || (seq === inst && !policy.allowEqual)) {
        throw new Abort(
          new UpdateError('ROLLBACK_REJECTED', `sequence number ${seq} is not ${policy.allowEqual ? 'at least' : 'above'} the installed ${inst}`, {
            details: { sequenceNumber: seq.toString(), installed: inst.toString() },
          }),
          this.bareRecord(MAN.SEQUENCE_NUMBER),
        );
      }
    }
  }

  private checkComponents(): void {
    const m = this.manifest;
    // Component table: suit-components, extended by dependency indices beyond it (trust-domains lenient reading).
    const ids: (ComponentId | undefined)[] = [...m.common.components];
    for (const [idx, dep] of m.common.dependencies ?? []) {
      if (idx >= (this.opts.maxComponents ?? DEFAULT_MAX_COMPONENTS)) break;
      if (idx >= ids.length) {
        while (ids.length < idx) ids.push(undefined);
        ids[idx] = dep.prefix;
      }
    }
    const max = this.opts.maxComponents ?? DEFAULT_MAX_COMPONENTS;
    if (ids.length > max || [...(m.common.dependencies?.keys() ?? [])].some((k) => k >= max)) {
      throw new Abort(new UpdateError('PROCESSOR_LIMIT', `manifest has ${ids.length} components; this processor supports ${max}`), this.bareRecord(MAN.COMMON));
    }
    this.componentIds = ids;
    // §6.3: clear parameter storage before the first sequence.
    this.params = ids.map(() => new Map());
  }

  private sectionSequence(key: number): CommandSequence | undefined {
    const m = this.manifest;
    let member: CommandSequence | { present: CommandSequence } | { severed: SuitDigest } | undefined;
    switch (key) {
      case MAN.VALIDATE:
        return m.validate;
      case MAN.LOAD:
        return m.load;
      case MAN.INVOKE:
        return m.invoke;
      case MAN.UNINSTALL:
        return m.uninstall;
      case MAN.DEPENDENCY_RESOLUTION:
        member = m.dependencyResolution;
        break;
      case MAN.PAYLOAD_FETCH:
        member = m.payloadFetch;
        break;
      case MAN.CANDIDATE_VERIFICATION:
        member = m.candidateVerification;
        break;
      case MAN.INSTALL:
        member = m.install;
        break;
    }
    if (member === undefined) return undefined;
    if ('present' in member) return member.present;
    if ('severed' in member) {
      if (this.opts.resolveSevered === undefined) {
        throw new Abort(new UpdateError('SEVERED_MEMBER_MISSING', `${sectionName(key)} is severed and the envelope does not carry it`), this.bareRecord(key));
      }
      try {
        return this.opts.resolveSevered(key);
      } catch (e) {
        throw new Abort(toUpdateError(e, 'SEVERED_MEMBER_MISSING'), this.bareRecord(key));
      }
    }
    return member as CommandSequence;
  }

  // ------------------------------------------------------------------ sequences and scoping

  private selection: number[] = [0];

  private resetSelection(): void {
    this.selection = [0];
  }

  private bareRecord(section: number, offset = 0, componentIndex = 0, properties: ParameterMap = new Map()): SuitRecord {
    return { manifestId: [...this.manifestId], section, offset, componentIndex, properties };
  }

  /** A section or the shared sequence: soft-failure is false and may not be set (§8.4.8.14). */
  private async runTop(seq: CommandSequence): Promise<void> {
    this.softFailure = false;
    this.softFailureSet = false;
    await this.runSequence(seq, { kind: 'top', bytes: seq.bytes });
  }

  /**
   * Run a nested sequence (try-each branch or run-sequence argument) for one component: it sees an
   * integer index, gets its own soft-failure default (true in try-each, false in run-sequence), and
   * the outer soft-failure, strict-order scope and component selection are restored afterwards.
   * Returns true when the sequence completed, false when it ended in a condition failure that
   * soft-failure absorbed; throws ConditionFailure when not absorbed.
   */
  private async runNested(seq: CommandSequence, kind: 'try-each' | 'run-sequence', componentIndex: number): Promise<boolean> {
    const saved = { soft: this.softFailure, softSet: this.softFailureSet, sel: this.selection };
    this.softFailure = kind === 'try-each';
    this.softFailureSet = false;
    this.selection = [componentIndex];
    try {
      await this.runSequence(seq, { kind, bytes: seq.bytes });
      return true;
    } catch (e) {
      if (e instanceof ConditionFailure && this.softFailure) return false;
      throw e;
    } finally {
      this.softFailure = saved.soft;
      this.softFailureSet = saved.softSet;
      this.selection = saved.sel;
    }
  }

  private async runSequence(seq: CommandSequence, frame: Frame): Promise<void> {
    for (const cmd of seq.commands) {
      if (cmd.kind === 'set-component-index') {
        this.step(cmd, this.selection[0] ?? 0);
        this.setIndex(cmd);
        this.trace.push(this.traceEntry(cmd, this.selection[0] ?? 0, 'ok'));
        continue;
      }
      if (cmd.kind === 'override-multiple') {
        // update-management: alias of set-component-index + override-parameters; executed once.
        this.step(cmd, this.selection[0] ?? 0);
        let last: number | undefined;
        for (const [idx, p] of cmd.byComponent) {
          this.checkIndex(idx, cmd);
          this.applyParams(p, idx, true, frame, cmd);
          last = idx;
        }
        if (last !== undefined) this.selection = [last];
        this.trace.push(this.traceEntry(cmd, last ?? 0, 'ok'));
        continue;
      }
      // §6.5: every other command executes once per selected component, in selection order.
      for (const idx of [...this.selection]) {
        await this.execute(cmd, idx, frame);
      }
    }
  }

  private step(cmd: Command, idx: number): void {
    if (++this.steps > this.maxSteps) {
      throw new Abort(
        new UpdateError('PROCESSOR_LIMIT', `more than ${this.maxSteps} command executions`, { details: { maxSteps: this.maxSteps } }),
        this.bareRecord(this.section, cmd.offset, idx),
      );
    }
  }

  private traceEntry(cmd: Command, idx: number, outcome: TraceEntry['outcome'], errorCode?: ErrorCode): TraceEntry {
    const t: TraceEntry = { section: this.section, shared: this.inShared, offset: cmd.offset, componentIndex: idx, code: cmd.code, name: commandName(cmd.code), outcome };
    if (errorCode !== undefined) t.errorCode = errorCode;
    return t;
  }

  private componentCount(): number {
    return this.componentIds.length;
  }

  private checkIndex(idx: number, cmd: Command): void {
    if (!Number.isSafeInteger(idx) || idx < 0 || idx >= this.componentCount()) {
      throw new Abort(
        new UpdateError('COMPONENT_UNKNOWN', `component index ${idx} is not in the manifest (it has ${this.componentCount()})`),
        this.bareRecord(this.section, cmd.offset, Math.max(0, Math.min(idx, 0xffffffff)) || 0),
      );
    }
  }

  private setIndex(cmd: Extract<Command, { kind: 'set-component-index' }>): void {
    const arg = cmd.index;
    if (arg === true) {
      this.selection = this.componentIds.map((_, i) => i);
    } else if (Array.isArray(arg)) {
      if (arg.length === 0) throw new Abort(new UpdateError('MANIFEST_MALFORMED', 'set-component-index with an empty array'), this.bareRecord(this.section, cmd.offset));
      for (const i of arg) this.checkIndex(i, cmd);
      this.selection = [...arg];
    } else {
      this.checkIndex(arg, cmd);
      this.selection = [arg];
    }
  }

  private componentId(idx: number, cmd: Command): ComponentId {
    const id = this.componentIds[idx];
    if (id === undefined) {
      throw new Abort(new UpdateError('COMPONENT_UNKNOWN', `component ${idx} has no identifier`), this.bareRecord(this.section, cmd.offset, idx));
    }
    return id;
  }

  private paramsOf(idx: number): ParameterMap {
    return this.params[idx] ?? new Map();
  }

  /** override-parameters (always set) / set-parameters (set if unset, trust-domains §6.6). */
  private applyParams(p: ParameterMap, idx: number, override: boolean, frame: Frame, cmd: Command): void {
    const store = this.params[idx];
    if (store === undefined) return;
    for (const [k, v] of p) {
      if (k === PARAM.SOFT_FAILURE) {
        // §8.4.8.14: soft-failure may only be set inside try-each or run-sequence.
        if (frame.kind === 'top') {
          throw new Abort(new UpdateError('MANIFEST_MALFORMED', 'soft-failure set outside try-each/run-sequence'), this.bareRecord(this.section, cmd.offset, idx));
        }
        if (override || !this.softFailureSet) {
          this.softFailure = v === true;
          this.softFailureSet = true;
        }
      } else if (k === PARAM.STRICT_ORDER) {
        // Processor-wide. We always execute in order; the value only activates the source≠target rule.
        if (override || !this.strictOrderSet) {
          this.strictOrder = v !== false;
          this.strictOrderSet = true;
        }
      } else if (override || !store.has(k)) {
        store.set(k, v);
      }
    }
  }

  private properties(cmd: Command, idx: number): ParameterMap {
    const keys = COMMAND_PARAMS[cmd.code] ?? [];
    const p = this.paramsOf(idx);
    const out: ParameterMap = new Map();
    for (const k of keys) {
      const v = p.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  private ctx(idx: number, cmd: Command): CommandContext {
    return {
      componentIndex: idx,
      componentId: this.componentId(idx, cmd),
      parameters: this.paramsOf(idx),
      section: this.section,
      manifestId: [...this.manifestId],
      dependency: this.manifest.common.dependencies?.has(idx) === true,
    };
  }

  private need<T extends ParamValue>(idx: number, key: number, cmd: Command, check: (v: ParamValue) => v is T, what: string): T {
    const v = this.paramsOf(idx).get(key);
    if (v === undefined) {
      throw new UpdateError('PARAMETER_MISSING', `${commandName(cmd.code)} needs parameter ${what} (${key}) for component ${idx}`, { details: { parameter: key } });
    }
    if (!check(v)) throw new UpdateError('MANIFEST_MALFORMED', `parameter ${what} (${key}) has the wrong type`, { details: { parameter: key } });
    return v;
  }

  // ------------------------------------------------------------------ one command, one component

  private async execute(cmd: Command, idx: number, frame: Frame): Promise<void> {
    this.step(cmd, idx);
    const isCondition = cmd.kind === 'condition' || (cmd.kind === 'custom' && this.platform.customCommands?.get(cmd.code)?.kind === 'condition');
    const policy = cmd.kind === 'condition' || cmd.kind === 'directive' ? cmd.policy : 0;
    const record = (): SuitRecord => this.bareRecord(this.section, cmd.offset, idx, this.properties(cmd, idx));
    try {
      if (this.inShared) this.checkSharedAllowed(cmd);
      switch (cmd.kind) {
        case 'condition':
          await this.condition(cmd, idx);
          break;
        case 'directive':
          await this.directive(cmd, idx);
          break;
        case 'set-parameters':
          this.applyParams(cmd.params, idx, cmd.code === CMD.OVERRIDE_PARAMETERS, frame, cmd);
          break;
        case 'copy-params': {
          // update-management: copy the listed parameters from each source component into the current one.
          const dst = this.params[idx];
          for (const [src, keys] of cmd.bySource) {
            this.checkIndex(src, cmd);
            const from = this.paramsOf(src);
            for (const k of keys) {
              const v = from.get(k);
              if (v !== undefined && dst !== undefined) dst.set(k, v);
            }
          }
          break;
        }
        case 'try-each':
          await this.tryEach(cmd, idx);
          break;
        case 'run-sequence':
          await this.runNested(cmd.sequence, 'run-sequence', idx);
          break;
        case 'custom':
          await this.custom(cmd, idx);
          break;
        default:
          throw new UpdateError('COMMAND_UNSUPPORTED', `command ${(cmd as Command).code} is not supported`);
      }
    } catch (e) {
      if (e instanceof Abort) {
        this.trace.push(this.traceEntry(cmd, idx, 'error', e.error.code));
        throw e;
      }
      if (e instanceof ConditionFailure) {
        // A nested sequence's failure that was not absorbed: it is the failure of this command.
        if (cmd.kind === 'try-each' || cmd.kind === 'run-sequence') {
          this.trace.push(this.traceEntry(cmd, idx, 'condition-failed', e.error.code));
          throw e;
        }
      }
      const err = e instanceof ConditionFailure ? e.error : toUpdateError(e, this.wrapCode(cmd));
      // A condition whose parameter was never set fails (§8.4.9: "fails if no digest set") rather than aborts.
      const conditionFailed = e instanceof ConditionFailure || (isCondition && err.code === 'PARAMETER_MISSING');
      if ((policy & REP.SYSINFO_FAILURE) !== 0) await this.sysinfo(cmd, idx);
      if (isCondition && conditionFailed) {
        const rec = record();
        if (this.opts.recordAll || (policy & REP.RECORD_ON_FAILURE) !== 0) this.records.push(rec);
        this.trace.push(this.traceEntry(cmd, idx, 'condition-failed', err.code));
        throw new ConditionFailure(new UpdateError(err.code, err.message, { cause: err.cause, details: { ...err.details, record: rec, condition: true } }));
      }
      const rec = record();
      if (this.opts.recordAll || (policy & REP.RECORD_ON_FAILURE) !== 0) this.records.push(rec);
      this.trace.push(this.traceEntry(cmd, idx, 'error', err.code));
      throw new Abort(err, rec);
    }
    if (this.opts.recordAll ? cmd.kind === 'condition' || cmd.kind === 'directive' : (policy & REP.RECORD_ON_SUCCESS) !== 0) this.records.push(record());
    if ((policy & REP.SYSINFO_SUCCESS) !== 0) await this.sysinfo(cmd, idx);
    this.trace.push(this.traceEntry(cmd, idx, 'ok'));
  }

  /**
   * report-18 sysinfo bits: the device's own value for what the command checked, as
   * system-property-claims. Best effort: a value the platform cannot give is left out, and a failing
   * query never changes the outcome of the command.
   */
  private async sysinfo(cmd: Command, idx: number): Promise<void> {
    const id = this.componentIds[idx];
    if (id === undefined || cmd.kind !== 'condition') return;
    const p = this.platform;
    const props: ParameterMap = new Map();
    try {
      switch (cmd.code) {
        case CMD.VENDOR_IDENTIFIER:
        case CMD.CLASS_IDENTIFIER:
        case CMD.DEVICE_IDENTIFIER: {
          const c = ID_CONDITIONS[cmd.code]!;
          const want = this.paramsOf(idx).get(c.param);
          const have = await p[c.which](id);
          const pick = have.find((h) => want !== undefined && identityMatches(want, h)) ?? have[0];
          if (pick !== undefined) props.set(c.param, pick);
          break;
        }
        case CMD.IMAGE_MATCH:
        case CMD.IMAGE_NOT_MATCH: {
          const want = this.paramsOf(idx).get(PARAM.IMAGE_DIGEST);
          const size = await p.size(id);
          if (size !== undefined) props.set(PARAM.IMAGE_SIZE, size);
          if (isDigest(want) && size !== undefined) {
            const d = await p.digest(id, want.alg);
            if (d !== undefined) props.set(PARAM.IMAGE_DIGEST, d);
          }
          break;
        }
        case CMD.COMPONENT_SLOT: {
          const slot = await p.componentSlot(id);
          if (slot !== undefined) props.set(PARAM.COMPONENT_SLOT, slot);
          break;
        }
        case CMD.MINIMUM_BATTERY:
          if (p.batteryMilliwattHours) props.set(PARAM.MINIMUM_BATTERY, Math.max(0, Math.floor(await p.batteryMilliwattHours())));
          break;
        case CMD.VERSION: {
          const v = p.currentVersion ? await p.currentVersion(id) : undefined;
          if (v !== undefined && v.length > 0) props.set(PARAM.VERSION, { cmp: 3, version: [...v] });
          break;
        }
      }
    } catch {
      return;
    }
    if (props.size === 0) return;
    const key = componentIdKey(id);
    const entry = this.systemProperties.get(key) ?? { componentId: id, properties: new Map() };
    for (const [k, v] of props) entry.properties.set(k, v);
    this.systemProperties.set(key, entry);
  }

  private wrapCode(cmd: Command): ErrorCode {
    if (cmd.code === CMD.FETCH) return 'FETCH_FAILED';
    if (cmd.code === CMD.INVOKE) return 'INVOKE_FAILED';
    if (cmd.code === CMD.PROCESS_DEPENDENCY) return 'DEPENDENCY_FAILED';
    return 'INTERNAL';
  }

  private checkSharedAllowed(cmd: Command): void {
    // §8.4.5 shared sequence: conditions and parameter/flow commands only; no custom commands.
    if (cmd.kind === 'condition') return;
    if (cmd.kind === 'custom') throw new UpdateError('COMMAND_UNSUPPORTED', `custom command ${cmd.code} is not allowed in the shared sequence`);
    if (!SHARED_ALLOWED_DIRECTIVES.has(cmd.code)) {
      throw new UpdateError('COMMAND_UNSUPPORTED', `${commandName(cmd.code)} is not allowed in the shared sequence`);
    }
  }

  private fail(code: ErrorCode, message: string): never {
    throw new ConditionFailure(new UpdateError(code, message));
  }

  private async condition(cmd: Extract<Command, { kind: 'condition' }>, idx: number): Promise<void> {
    const p = this.platform;
    const idCond = ID_CONDITIONS[cmd.code];
    if (idCond !== undefined) {
      const want = this.need(idx, idCond.param, cmd, (v): v is Uint8Array | Tagged => v instanceof Uint8Array || v instanceof Tagged, commandName(cmd.code).replace('condition-', ''));
      const have = await p[idCond.which](this.componentId(idx, cmd));
      if (!have.some((h) => identityMatches(want, h))) this.fail(idCond.code, `${commandName(cmd.code)} failed for component ${idx}`);
      return;
    }
    switch (cmd.code) {
      case CMD.IMAGE_MATCH:
      case CMD.IMAGE_NOT_MATCH: {
        const matches = await this.imageMatches(cmd, idx);
        if (cmd.code === CMD.IMAGE_MATCH && !matches) this.fail('IMAGE_MISMATCH', `image of component ${idx} does not match image-digest/image-size`);
        if (cmd.code === CMD.IMAGE_NOT_MATCH && matches) this.fail('CONDITION_FAILED', `image of component ${idx} matches (image-not-match)`);
        return;
      }
      case CMD.USE_BEFORE: {
        const limit = toBig(this.need(idx, PARAM.USE_BEFORE, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'use-before'))!;
        // No trusted clock ⇒ fail closed (update-management: use-before cannot be proven).
        const now = p.now ? await p.now() : undefined;
        if (now === undefined) this.fail('CONDITION_FAILED', 'use-before: no trusted time available');
        if (BigInt(now) >= limit) this.fail('CONDITION_FAILED', `use-before ${limit} has passed`);
        return;
      }
      case CMD.COMPONENT_SLOT: {
        const want = toBig(this.need(idx, PARAM.COMPONENT_SLOT, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'component-slot'))!;
        const have = await p.componentSlot(this.componentId(idx, cmd));
        if (have === undefined || BigInt(have) !== want) this.fail('CONDITION_FAILED', `component ${idx} is not in slot ${want}`);
        return;
      }
      case CMD.CHECK_CONTENT: {
        const want = this.need(idx, PARAM.CONTENT, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'content');
        const id = this.componentId(idx, cmd);
        const size = await p.size(id);
        const ok = size === want.length && constantTimeEqual(await p.read(id, 0, want.length), want);
        if (!ok) this.fail('CONDITION_FAILED', `content of component ${idx} differs`);
        return;
      }
      case CMD.ABORT:
        this.fail('CONDITION_FAILED', 'suit-condition-abort');
        return;
      case CMD.IS_DEPENDENCY:
        if (!this.manifest.common.dependencies?.has(idx)) this.fail('CONDITION_FAILED', `component ${idx} is not a dependency`);
        return;
      case CMD.DEPENDENCY_INTEGRITY: {
        if (!p.dependencyIntegrity) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not support dependency-integrity');
        const expected = this.need(idx, PARAM.IMAGE_DIGEST, cmd, isDigest, 'image-digest');
        if (!this.manifest.common.dependencies?.has(idx)) this.fail('CONDITION_FAILED', `component ${idx} is not a dependency`);
        const ok = await p.dependencyIntegrity(this.componentId(idx, cmd), expected, this.ctx(idx, cmd));
        // trust-domains §6.4: failure of dependency-integrity aborts (not absorbed by soft-failure).
        if (!ok) throw new UpdateError('DEPENDENCY_FAILED', `dependency ${idx} failed its integrity check`);
        this.verifiedDependencies.add(idx);
        return;
      }
      case CMD.MINIMUM_BATTERY: {
        if (!p.batteryMilliwattHours) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot report its battery level');
        const min = toBig(this.need(idx, PARAM.MINIMUM_BATTERY, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'minimum-battery'))!;
        const have = await p.batteryMilliwattHours();
        if (!(have >= Number(min))) this.fail('CONDITION_FAILED', `battery ${have} mWh is below ${min} mWh`);
        return;
      }
      case CMD.UPDATE_AUTHORIZED: {
        if (!p.updateAuthorized) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform has no update authorization');
        if (!(await p.updateAuthorized(this.ctx(idx, cmd)))) this.fail('CONDITION_FAILED', 'update not authorized');
        return;
      }
      case CMD.VERSION: {
        if (!p.currentVersion) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot report component versions');
        const match = this.need(idx, PARAM.VERSION, cmd, isVersionMatch, 'version');
        const have = await p.currentVersion(this.componentId(idx, cmd));
        if (have === undefined || !versionMatches(have, match)) {
          this.fail('CONDITION_FAILED', `version of component ${idx} (${have?.join('.') ?? 'unknown'}) does not satisfy type ${match.cmp} [${match.version.join(',')}]`);
        }
        return;
      }
      default:
        // update-management: an unknown condition is a failure.
        this.fail('CONDITION_FAILED', `unknown condition ${cmd.code}`);
    }
  }

  private async imageMatches(cmd: Command, idx: number): Promise<boolean> {
    const want = this.need(idx, PARAM.IMAGE_DIGEST, cmd, isDigest, 'image-digest');
    const sizeParam = this.paramsOf(idx).get(PARAM.IMAGE_SIZE);
    let size: number | undefined;
    if (sizeParam !== undefined) {
      const s = toBig(sizeParam);
      if (s === undefined || s < 0n || s > BigInt(Number.MAX_SAFE_INTEGER)) throw new UpdateError('MANIFEST_MALFORMED', 'image-size must be an unsigned integer');
      size = Number(s);
    }
    const id = this.componentId(idx, cmd);
    const isDependency = this.manifest.common.dependencies?.has(idx) === true;
    const decided = this.platform.matchImage ? await this.platform.matchImage(id, want, size, this.ctx(idx, cmd)) : undefined;
    if (isDependency) {
      const ok = decided ?? (await this.dependencyMatches(id, want, size));
      // The draft's trust-domains example 2 runs process-dependency after only an image-match of the
      // dependency (in dependency-resolution); accept that as the integrity check of this run too.
      if (ok) this.verifiedDependencies.add(idx);
      return ok;
    }
    if (decided !== undefined) return decided;
    // §8.4.9.2: digest of the component (over image-size bytes when set) equals image-digest.
    if (size !== undefined && (await this.platform.size(id)) !== size) return false;
    const d = await this.platform.digest(id, want.alg, size);
    return d !== undefined && digestsEqual(d, want);
  }

  /**
   * trust-domains §5: image-match on a dependency compares the dependency's manifest digest
   * (SUIT_Authentication[0]), so re-signing it does not break the reference; image-size is the
   * size of the stored envelope.
   */
  private async dependencyMatches(id: ComponentId, want: SuitDigest, size: number | undefined): Promise<boolean> {
    const have = await this.platform.size(id);
    if (have === undefined || (size !== undefined && have !== size) || have > DEPENDENCY_MAX_BYTES) return false;
    try {
      const env = decodeEnvelope(await this.platform.read(id, 0, have));
      checkManifestDigest(env);
      return digestsEqual(env.digest, want);
    } catch (e) {
      if (e instanceof UpdateError) return false;
      throw e;
    }
  }

  private async directive(cmd: Extract<Command, { kind: 'directive' }>, idx: number): Promise<void> {
    const p = this.platform;
    switch (cmd.code) {
      case CMD.FETCH: {
        const uri = this.need(idx, PARAM.URI, cmd, (v): v is string => typeof v === 'string', 'uri');
        const id = this.componentId(idx, cmd);
        const integrated = this.opts.integrated?.get(uri);
        if (integrated !== undefined) {
          await p.write(id, integrated, this.ctx(idx, cmd));
          return;
        }
        const args = this.paramsOf(idx).get(PARAM.FETCH_ARGUMENTS);
        await p.fetch(uri, args instanceof Uint8Array ? args : undefined, id, this.ctx(idx, cmd));
        return;
      }
      case CMD.WRITE: {
        const content = this.need(idx, PARAM.CONTENT, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'content');
        await p.write(this.componentId(idx, cmd), content, this.ctx(idx, cmd));
        return;
      }
      case CMD.COPY:
      case CMD.SWAP: {
        const src = Number(this.need(idx, PARAM.SOURCE_COMPONENT, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'source-component'));
        this.checkIndex(src, cmd);
        // §8.4.2.1 strict-order false: a component may not be both source and target.
        if (src === idx) {
          throw new UpdateError('MANIFEST_MALFORMED', `${commandName(cmd.code)}: source and target are both component ${idx}${this.strictOrder ? '' : ' (strict-order is false)'}`);
        }
        const dst = this.componentId(idx, cmd);
        const from = this.componentId(src, cmd);
        if (cmd.code === CMD.COPY) await p.copy(dst, from, this.ctx(idx, cmd));
        else await p.swap(dst, from, this.ctx(idx, cmd));
        return;
      }
      case CMD.INVOKE: {
        const args = this.paramsOf(idx).get(PARAM.INVOKE_ARGS);
        await p.invoke(this.componentId(idx, cmd), args instanceof Uint8Array ? args : undefined, this.ctx(idx, cmd));
        return;
      }
      case CMD.WAIT: {
        if (!p.waitFor) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot wait for events');
        const info = this.need(idx, PARAM.WAIT_INFO, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'wait-info');
        await p.waitFor(info, this.ctx(idx, cmd));
        return;
      }
      case CMD.UNLINK: {
        if (!p.unlink) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not support unlink');
        await p.unlink(this.componentId(idx, cmd), this.ctx(idx, cmd));
        return;
      }
      case CMD.PROCESS_DEPENDENCY: {
        if (!p.processDependency) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not process dependencies');
        const deps = this.manifest.common.dependencies;
        // trust-domains §6.5: only for a dependency that passed dependency-integrity (or a dependency
        // image-match) earlier in this run; the platform authenticates the dependency again when processing it.
        if (!deps?.has(idx)) throw new UpdateError('DEPENDENCY_FAILED', `component ${idx} is not a dependency`);
        if (this.opts.requireDependencyIntegrity !== false && !this.verifiedDependencies.has(idx)) throw new UpdateError('DEPENDENCY_FAILED', `dependency ${idx} has not passed dependency-integrity`);
        const prefix = deps.get(idx)?.prefix;
        const records = await p.processDependency({ ...this.ctx(idx, cmd), ...(prefix ? { prefix } : {}) });
        if (Array.isArray(records)) this.records.push(...records);
        return;
      }
      default:
        // update-management: an unknown command rejects the manifest.
        throw new UpdateError('COMMAND_UNSUPPORTED', `unknown command ${cmd.code}`);
    }
  }

  private async tryEach(cmd: Extract<Command, { kind: 'try-each' }>, idx: number): Promise<void> {
    // §8.4.8.10: run each sequence until one completes; soft-failure is true by default inside a branch.
    for (const seq of cmd.sequences) {
      if (await this.runNested(seq, 'try-each', idx)) return;
    }
    if (cmd.allowAllFail) return;
    throw new ConditionFailure(
      new UpdateError('CONDITION_FAILED', `every try-each branch failed for component ${idx}`, {
        details: { record: this.bareRecord(this.section, cmd.offset, idx), condition: true },
      }),
    );
  }

  private async custom(cmd: Extract<Command, { kind: 'custom' }>, idx: number): Promise<void> {
    const h = this.platform.customCommands?.get(cmd.code);
    if (!h) throw new UpdateError('COMMAND_UNSUPPORTED', `custom command ${cmd.code} is not supported by this platform`);
    const r = await h.run(cmd.arg, this.ctx(idx, cmd));
    if (h.kind === 'condition' && r !== true) this.fail('CONDITION_FAILED', `custom condition ${cmd.code} failed`);
  }
}
