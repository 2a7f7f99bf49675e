/**
 * Dry run: a `Platform` that changes nothing and records every operation a manifest would perform
 * ("would fetch uri X into component [00]", "would invoke [00]"), so tools (`suit-sign inspect`, the
 * server's release view) can list what a manifest does. Conditions are evaluated against a configurable
 * identity; `DryRunPlatform.forManifest` builds one that matches whatever identity the manifest expects.
 */
import { Tagged, type CborValue } from '../cbor.js';
import { PARAM } from '../keys.js';
import type { Command, CommandSequence, ComponentId, ParamValue, SuitDigest, SuitEnvelope, SuitManifest } from '../model.js';
import { commandName, paramName, SECTIONS, sectionName, type SectionName } from './names.js';
import { formatComponentId, type ByteSource, type CommandContext, type CustomCommandHandler, type DependencyRequest, type IdentityValue, type Platform } from './platform.js';
import { processEnvelope, type ProcessOptions } from './process-envelope.js';
import type { ProcessResult } from './processor.js';

export interface DryRunOperation {
  op: 'fetch' | 'write' | 'copy' | 'swap' | 'invoke' | 'image-match' | 'wait' | 'unlink' | 'dependency-integrity' | 'process-dependency' | 'custom';
  component: ComponentId;
  /** fetch: the URI; copy/swap: the other component; image-match: the digest; invoke: args hex. */
  detail?: string;
  /** Human line, e.g. `would fetch http://x/fw.bin into component [00]`. */
  text: string;
}

export interface DryRunOptions {
  vendorIds?: IdentityValue[];
  classIds?: IdentityValue[];
  deviceIds?: IdentityValue[];
  /** Slot reported for every component (component-slot condition). Default 0. `null` = no slot. */
  slot?: number | null;
  /** Image-match outcome to assume (no image is read). Default true. */
  assumeImageMatch?: boolean;
  batteryMilliwattHours?: number;
  updateAuthorized?: boolean;
  /** Installed version reported for every component; default undefined (version conditions fail). */
  version?: number[];
  /** Trusted time; default undefined: use-before fails closed, as on a device without a trusted clock. */
  now?: bigint | number;
  /** Custom-command numbers to accept (as directives that do nothing, or conditions that hold). */
  customCommands?: Map<number, CustomCommandHandler['kind']>;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class DryRunPlatform implements Platform {
  readonly operations: DryRunOperation[] = [];
  customCommands?: ReadonlyMap<number, CustomCommandHandler>;

  constructor(readonly opts: DryRunOptions = {}) {
    if (opts.customCommands) {
      const m = new Map<number, CustomCommandHandler>();
      for (const [code, kind] of opts.customCommands) {
        m.set(code, {
          kind,
          run: async (arg, ctx) => {
            this.add('custom', ctx.componentId, `would run custom ${kind} ${code} on component ${formatComponentId(ctx.componentId)}`, String(arg));
            return kind === 'condition' ? true : undefined;
          },
        });
      }
      this.customCommands = m;
    }
  }

  /** A dry-run device whose identity is exactly what `manifest` checks for (every vendor/class/device id it sets). */
  static forManifest(manifest: SuitManifest, opts: DryRunOptions = {}): DryRunPlatform {
    const found = { vendorIds: [] as IdentityValue[], classIds: [] as IdentityValue[], deviceIds: [] as IdentityValue[] };
    for (const seq of allSequences(manifest)) {
      walk(seq, (cmd) => {
        const maps = cmd.kind === 'set-parameters' ? [cmd.params] : cmd.kind === 'override-multiple' ? [...cmd.byComponent.values()] : [];
        for (const p of maps) {
          for (const [k, v] of p) {
            if (!(v instanceof Uint8Array || v instanceof Tagged)) continue;
            if (k === PARAM.VENDOR_IDENTIFIER) found.vendorIds.push(v);
            if (k === PARAM.CLASS_IDENTIFIER) found.classIds.push(v);
            if (k === PARAM.DEVICE_IDENTIFIER) found.deviceIds.push(v);
          }
        }
      });
    }
    return new DryRunPlatform({ ...found, ...opts });
  }

  /** The operations as human lines. */
  lines(): string[] {
    return this.operations.map((o) => o.text);
  }

  private add(op: DryRunOperation['op'], component: ComponentId, text: string, detail?: string): void {
    this.operations.push(detail === undefined ? { op, component, text } : { op, component, text, detail });
  }

  async read(): Promise<Uint8Array> {
    return new Uint8Array();
  }
  async size(): Promise<number | undefined> {
    return undefined;
  }
  async digest(): Promise<SuitDigest | undefined> {
    return undefined;
  }
  async matchImage(id: ComponentId, expected: SuitDigest, size: number | undefined, ctx: CommandContext): Promise<boolean> {
    if (ctx.dependency) {
      this.add('image-match', id, `would check that dependency ${formatComponentId(id)} has manifest digest ${hex(expected.bytes)}`, hex(expected.bytes));
      return this.opts.assumeImageMatch ?? true;
    }
    const what = `${expected.alg === -16 ? 'sha-256' : `alg ${expected.alg}`}:${hex(expected.bytes)}${size === undefined ? '' : `, ${size} bytes`}`;
    this.add('image-match', id, `would check that component ${formatComponentId(id)} has digest ${what}`, what);
    return this.opts.assumeImageMatch ?? true;
  }
  async write(id: ComponentId, data: ByteSource, ctx: CommandContext): Promise<void> {
    const n = data instanceof Uint8Array ? `${data.length} bytes` : 'a stream';
    const enc = ctx.parameters.has(PARAM.ENCRYPTION_INFO) ? ' (decrypting)' : '';
    this.add('write', id, `would write ${n}${enc} into component ${formatComponentId(id)}`);
  }
  async copy(dst: ComponentId, src: ComponentId, ctx: CommandContext): Promise<void> {
    const enc = ctx.parameters.has(PARAM.ENCRYPTION_INFO) ? ' (decrypting)' : '';
    this.add('copy', dst, `would copy component ${formatComponentId(src)} into component ${formatComponentId(dst)}${enc}`, formatComponentId(src));
  }
  async swap(a: ComponentId, b: ComponentId): Promise<void> {
    this.add('swap', a, `would swap components ${formatComponentId(a)} and ${formatComponentId(b)}`, formatComponentId(b));
  }
  async fetch(uri: string, fetchArgs: Uint8Array | undefined, target: ComponentId): Promise<void> {
    this.add('fetch', target, `would fetch ${uri} into component ${formatComponentId(target)}${fetchArgs ? ` (fetch-arguments ${hex(fetchArgs)})` : ''}`, uri);
  }
  async invoke(id: ComponentId, args: Uint8Array | undefined): Promise<void> {
    this.add('invoke', id, `would invoke component ${formatComponentId(id)}${args ? ` with arguments ${hex(args)}` : ''}`, args ? hex(args) : undefined);
  }
  async vendorIds(): Promise<readonly IdentityValue[]> {
    return this.opts.vendorIds ?? [];
  }
  async classIds(): Promise<readonly IdentityValue[]> {
    return this.opts.classIds ?? [];
  }
  async deviceIds(): Promise<readonly IdentityValue[]> {
    return this.opts.deviceIds ?? [];
  }
  async componentSlot(): Promise<number | undefined> {
    return this.opts.slot === null ? undefined : (this.opts.slot ?? 0);
  }
  async batteryMilliwattHours(): Promise<number> {
    return this.opts.batteryMilliwattHours ?? Number.MAX_SAFE_INTEGER;
  }
  async updateAuthorized(): Promise<boolean> {
    return this.opts.updateAuthorized ?? true;
  }
  async currentVersion(): Promise<readonly number[] | undefined> {
    return this.opts.version;
  }
  async now(): Promise<number | bigint | undefined> {
    return this.opts.now;
  }
  async waitFor(waitInfo: Uint8Array, ctx: CommandContext): Promise<void> {
    this.add('wait', ctx.componentId, `would wait for events ${hex(waitInfo)}`);
  }
  async unlink(id: ComponentId): Promise<void> {
    this.add('unlink', id, `would unlink component ${formatComponentId(id)}`);
  }
  async dependencyIntegrity(id: ComponentId, expected: SuitDigest): Promise<boolean> {
    this.add('dependency-integrity', id, `would verify dependency ${formatComponentId(id)} against digest ${hex(expected.bytes)}`);
    return true;
  }
  async processDependency(req: DependencyRequest): Promise<void> {
    this.add('process-dependency', req.componentId, `would process ${sectionName(req.section)} of dependency ${formatComponentId(req.componentId)}`);
  }
}

/** All command sequences of a manifest that are present (shared sequence first). */
function allSequences(m: SuitManifest): CommandSequence[] {
  const out: CommandSequence[] = [];
  if (m.common.sharedSequence) out.push(m.common.sharedSequence);
  for (const s of [m.dependencyResolution, m.payloadFetch, m.candidateVerification, m.install]) if (s && 'present' in s) out.push(s.present);
  for (const s of [m.validate, m.load, m.invoke, m.uninstall]) if (s) out.push(s);
  return out;
}

function walk(seq: CommandSequence, f: (c: Command) => void): void {
  for (const c of seq.commands) {
    f(c);
    if (c.kind === 'try-each') for (const s of c.sequences) walk(s, f);
    if (c.kind === 'run-sequence') walk(c.sequence, f);
  }
}

export const UPDATE_AND_INVOKE: SectionName[] = ['dependency-resolution', 'payload-fetch', 'candidate-verification', 'install', 'validate', 'load', 'invoke'];

/**
 * Run an envelope on a dry-run device that matches the manifest's identity and return the result with
 * the list of operations. `sections` defaults to the Update and Invocation procedures.
 */
export async function dryRunEnvelope(
  env: SuitEnvelope,
  opts: DryRunOptions & { sections?: SectionName[]; processor?: Omit<ProcessOptions, 'sections'> } = {},
): Promise<{ result: ProcessResult; operations: DryRunOperation[]; lines: string[] }> {
  const { sections = UPDATE_AND_INVOKE, processor = {}, ...platformOpts } = opts;
  const platform = DryRunPlatform.forManifest(env.manifest, platformOpts);
  const result = await processEnvelope(env, platform, { recordAll: true, ...processor, sections });
  return { result, operations: platform.operations, lines: platform.lines() };
}

// ------------------------------------------------------------------ describe (for humans)

function describeValue(key: number, v: ParamValue): string {
  if (v instanceof Uint8Array) {
    if ((key === PARAM.VENDOR_IDENTIFIER || key === PARAM.CLASS_IDENTIFIER || key === PARAM.DEVICE_IDENTIFIER) && v.length === 16) {
      const h = hex(v);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    return `h'${hex(v)}'`;
  }
  if (v instanceof Tagged) return `${v.tag}(${v.value instanceof Uint8Array ? `h'${hex(v.value)}'` : '…'})`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null && 'alg' in v && 'bytes' in v) {
    const d = v as SuitDigest;
    return `${d.alg === -16 ? 'sha-256' : `alg ${d.alg}`}:${hex(d.bytes)}`;
  }
  if (typeof v === 'object' && v !== null && 'cmp' in v && 'version' in v) {
    const ops = ['?', '>', '>=', '==', '<=', '<'];
    const vm = v as { cmp: number; version: number[] };
    return `${ops[vm.cmp] ?? `type ${vm.cmp}`} ${vm.version.join('.')}`;
  }
  return String(v as CborValue);
}

function policyText(policy: number): string {
  const bits = [policy & 1 ? 'success' : '', policy & 2 ? 'failure' : '', policy & 4 ? 'sysinfo-success' : '', policy & 8 ? 'sysinfo-failure' : ''].filter(Boolean);
  return bits.length ? ` [report: ${bits.join(', ')}]` : '';
}

/** One line per command (nested sequences indented), e.g. `condition-vendor-identifier [report: success, failure]`. */
export function describeSequence(seq: CommandSequence, indent = ''): string[] {
  const out: string[] = [];
  for (const c of seq.commands) {
    const at = `${indent}@${c.offset} `;
    switch (c.kind) {
      case 'set-component-index':
        out.push(`${at}set-component-index ${c.index === true ? 'all' : Array.isArray(c.index) ? `[${c.index.join(', ')}]` : c.index}`);
        break;
      case 'set-parameters':
        out.push(`${at}${c.code === 20 ? 'override-parameters' : 'set-parameters (if unset)'}: ${[...c.params].map(([k, v]) => `${paramName(k)} = ${describeValue(k, v)}`).join('; ')}`);
        break;
      case 'override-multiple':
        out.push(`${at}override-multiple:`);
        for (const [i, p] of c.byComponent) out.push(`${indent}  component ${i}: ${[...p].map(([k, v]) => `${paramName(k)} = ${describeValue(k, v)}`).join('; ')}`);
        break;
      case 'copy-params':
        out.push(`${at}copy-params: ${[...c.bySource].map(([s, ks]) => `from component ${s}: ${ks.map(paramName).join(', ')}`).join('; ')}`);
        break;
      case 'try-each':
        out.push(`${at}try-each${c.allowAllFail ? ' (all may fail)' : ''}:`);
        c.sequences.forEach((s, i) => {
          out.push(`${indent}  branch ${i + 1}:`);
          out.push(...describeSequence(s, `${indent}    `));
        });
        break;
      case 'run-sequence':
        out.push(`${at}run-sequence:`);
        out.push(...describeSequence(c.sequence, `${indent}  `));
        break;
      case 'custom':
        out.push(`${at}custom command ${c.code}`);
        break;
      default:
        out.push(`${at}${commandName(c.code)}${policyText(c.policy)}`);
    }
  }
  return out;
}

/** Every present section of a manifest, in procedure order, described with `describeSequence`. */
export function describeManifest(m: SuitManifest): string[] {
  const out: string[] = [`manifest sequence number ${m.sequenceNumber}, components ${m.common.components.map(formatComponentId).join(' ')}`];
  if (m.common.sharedSequence) out.push('shared-sequence:', ...describeSequence(m.common.sharedSequence, '  '));
  for (const name of [...UPDATE_AND_INVOKE, 'uninstall'] as SectionName[]) {
    const key = SECTIONS[name];
    const member = (
      {
        15: m.dependencyResolution,
        16: m.payloadFetch,
        18: m.candidateVerification,
        20: m.install,
        7: m.validate && { present: m.validate },
        8: m.load && { present: m.load },
        9: m.invoke && { present: m.invoke },
        24: m.uninstall && { present: m.uninstall },
      } as Record<number, { present: CommandSequence } | { severed: SuitDigest } | undefined>
    )[key];
    if (!member) continue;
    if ('severed' in member) out.push(`${name}: severed (digest ${hex(member.severed.bytes)})`);
    else out.push(`${name}:`, ...describeSequence(member.present, '  '));
  }
  return out;
}
