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
import { UpdateError, toUpdateError, type ErrorCode } from '../errors.js';
import { CMD, MAN, REP } from '../keys.js';
import type { Command, CommandSequence, ParameterMap, SuitDigest, SuitManifest } from '../model.js';
import type { CommandRun } from './command-run.js';
import { componentTable, ComponentSelection } from './component-index.js';
import { runCondition } from './conditions.js';
import { runCustom, runDirective } from './directives.js';
import { Abort, ConditionFailure, reasonFor, wrapCode } from './failures.js';
import { commandName, SECTIONS, sectionName, type SectionName } from './names.js';
import { ParameterStore } from './parameters.js';
import type { CommandContext, Platform } from './platform.js';
import type { SuitRecord, SuitReport, SuitSystemProperties } from './report.js';
import { collectSysinfo } from './sysinfo.js';

export { reasonFor } from './failures.js';
export { versionMatches } from './conditions.js';

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
/** A frame per executing command sequence (soft-failure scoping, §6.4 / §8.4.8.14). */
interface Frame {
  /** 'top' = a section or the shared sequence; 'try-each' branch; 'run-sequence' argument. */
  kind: 'top' | 'try-each' | 'run-sequence';
  bytes: Uint8Array;
}

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

export class Processor {
  private readonly platform: Platform;
  private readonly manifest: SuitManifest;
  private readonly opts: ProcessorOptions;
  private readonly maxSteps: number;
  private readonly manifestId: number[];

  /** Parameter storage (§6.3) with the processor-wide strict-order and soft-failure flags. */
  private readonly params = new ParameterStore();
  /** Component ids by index (set by checkComponents) and the current component index. */
  private readonly components = new ComponentSelection((offset, idx) => this.bareRecord(this.section, offset, idx));
  private steps = 0;
  private readonly verifiedDependencies = new Set<number>();
  /** What conditions.ts, directives.ts and sysinfo.ts see of this run. */
  private readonly commandRun: CommandRun;

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
    this.commandRun = {
      platform,
      manifest,
      integrated: options.integrated,
      requireDependencyIntegrity: options.requireDependencyIntegrity !== false,
      params: this.params,
      components: this.components,
      verifiedDependencies: this.verifiedDependencies,
      records: this.records,
      systemProperties: this.systemProperties,
      ctx: (idx, cmd) => this.ctx(idx, cmd),
    };
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
        this.components.reset();
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
    // Component table: suit-components, extended by dependency indices beyond it (trust-domains lenient reading).
    let ids;
    try {
      ids = componentTable(this.manifest, this.opts.maxComponents ?? DEFAULT_MAX_COMPONENTS);
    } catch (e) {
      throw new Abort(toUpdateError(e), this.bareRecord(MAN.COMMON));
    }
    this.components.load(ids);
    // §6.3: clear parameter storage before the first sequence.
    this.params.clear(ids.length);
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

  private bareRecord(section: number, offset = 0, componentIndex = 0, properties: ParameterMap = new Map()): SuitRecord {
    return { manifestId: [...this.manifestId], section, offset, componentIndex, properties };
  }

  /** A section or the shared sequence: soft-failure is false and may not be set (§8.4.8.14). */
  private async runTop(seq: CommandSequence): Promise<void> {
    this.params.softFailure = false;
    this.params.softFailureSet = false;
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
    const saved = { soft: this.params.softFailure, softSet: this.params.softFailureSet, sel: this.components.selection };
    this.params.softFailure = kind === 'try-each';
    this.params.softFailureSet = false;
    this.components.selection = [componentIndex];
    try {
      await this.runSequence(seq, { kind, bytes: seq.bytes });
      return true;
    } catch (e) {
      if (e instanceof ConditionFailure && this.params.softFailure) return false;
      throw e;
    } finally {
      this.params.softFailure = saved.soft;
      this.params.softFailureSet = saved.softSet;
      this.components.selection = saved.sel;
    }
  }

  private async runSequence(seq: CommandSequence, frame: Frame): Promise<void> {
    for (const cmd of seq.commands) {
      if (cmd.kind === 'set-component-index') {
        this.step(cmd, this.components.selection[0] ?? 0);
        this.components.select(cmd);
        this.trace.push(this.traceEntry(cmd, this.components.selection[0] ?? 0, 'ok'));
        continue;
      }
      if (cmd.kind === 'override-multiple') {
        // update-management: alias of set-component-index + override-parameters; executed once.
        this.step(cmd, this.components.selection[0] ?? 0);
        let last: number | undefined;
        for (const [idx, p] of cmd.byComponent) {
          this.components.check(idx, cmd);
          this.applyParams(p, idx, true, frame, cmd);
          last = idx;
        }
        if (last !== undefined) this.components.selection = [last];
        this.trace.push(this.traceEntry(cmd, last ?? 0, 'ok'));
        continue;
      }
      // §6.5: every other command executes once per selected component, in selection order.
      for (const idx of [...this.components.selection]) {
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

  /** set-parameters / override-parameters; setting soft-failure in a section or the shared sequence aborts (§8.4.8.14). */
  private applyParams(p: ParameterMap, idx: number, override: boolean, frame: Frame, cmd: Command): void {
    this.params.apply(p, idx, override, frame.kind === 'top', () => {
      throw new Abort(new UpdateError('MANIFEST_MALFORMED', 'soft-failure set outside try-each/run-sequence'), this.bareRecord(this.section, cmd.offset, idx));
    });
  }

  private ctx(idx: number, cmd: Command): CommandContext {
    return {
      componentIndex: idx,
      componentId: this.components.id(idx, cmd),
      parameters: this.params.of(idx),
      section: this.section,
      manifestId: [...this.manifestId],
      dependency: this.manifest.common.dependencies?.has(idx) === true,
    };
  }

  // ------------------------------------------------------------------ one command, one component

  private async execute(cmd: Command, idx: number, frame: Frame): Promise<void> {
    this.step(cmd, idx);
    const isCondition = cmd.kind === 'condition' || (cmd.kind === 'custom' && this.platform.customCommands?.get(cmd.code)?.kind === 'condition');
    const policy = cmd.kind === 'condition' || cmd.kind === 'directive' ? cmd.policy : 0;
    const record = (): SuitRecord => this.bareRecord(this.section, cmd.offset, idx, this.params.properties(cmd, idx));
    try {
      if (this.inShared) this.checkSharedAllowed(cmd);
      switch (cmd.kind) {
        case 'condition':
          await runCondition(this.commandRun, cmd, idx);
          break;
        case 'directive':
          await runDirective(this.commandRun, cmd, idx);
          break;
        case 'set-parameters':
          this.applyParams(cmd.params, idx, cmd.code === CMD.OVERRIDE_PARAMETERS, frame, cmd);
          break;
        case 'copy-params': {
          // update-management: copy the listed parameters from each source component into the current one.
          for (const [src, keys] of cmd.bySource) {
            this.components.check(src, cmd);
            this.params.copy(src, keys, idx);
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
          await runCustom(this.commandRun, cmd, idx);
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
      const err = e instanceof ConditionFailure ? e.error : toUpdateError(e, wrapCode(cmd));
      // A condition whose parameter was never set fails (§8.4.9: "fails if no digest set") rather than aborts.
      const conditionFailed = e instanceof ConditionFailure || (isCondition && err.code === 'PARAMETER_MISSING');
      if ((policy & REP.SYSINFO_FAILURE) !== 0) await collectSysinfo(this.commandRun, cmd, idx);
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
    if ((policy & REP.SYSINFO_SUCCESS) !== 0) await collectSysinfo(this.commandRun, cmd, idx);
    this.trace.push(this.traceEntry(cmd, idx, 'ok'));
  }

  private checkSharedAllowed(cmd: Command): void {
    // §8.4.5 shared sequence: conditions and parameter/flow commands only; no custom commands.
    if (cmd.kind === 'condition') return;
    if (cmd.kind === 'custom') throw new UpdateError('COMMAND_UNSUPPORTED', `custom command ${cmd.code} is not allowed in the shared sequence`);
    if (!SHARED_ALLOWED_DIRECTIVES.has(cmd.code)) {
      throw new UpdateError('COMMAND_UNSUPPORTED', `${commandName(cmd.code)} is not allowed in the shared sequence`);
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
}
