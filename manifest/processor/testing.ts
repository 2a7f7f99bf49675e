/** Test helpers: hand-built manifest models (no codec needed). Not part of the public face. */
import type { CborValue } from '../cbor.js';
import { CONDITIONS } from '../keys.js';
import type { Command, CommandSequence, ComponentId, IndexArg, ParameterMap, ParamValue, SuitManifest } from '../model.js';

type Step =
  | [code: number, policy?: number]
  | { idx: IndexArg }
  | { override: [number, ParamValue][] }
  | { set: [number, ParamValue][] }
  | { tryEach: Step[][]; allowAllFail?: boolean }
  | { run: Step[] }
  | { multiple: [number, [number, ParamValue][]][] }
  | { copyParams: [number, number[]][] }
  | { custom: number; arg?: CborValue };

/** Build a CommandSequence; offsets are the step number × 2 (stable, not real byte offsets). */
export function seq(...steps: Step[]): CommandSequence {
  const commands: Command[] = steps.map((s, i): Command => {
    const offset = i * 2;
    if (Array.isArray(s)) {
      const [code, policy = 0] = s;
      return { kind: CONDITIONS.has(code) ? 'condition' : 'directive', code, policy, offset };
    }
    if ('idx' in s) return { kind: 'set-component-index', code: 12, index: s.idx, offset };
    if ('override' in s) return { kind: 'set-parameters', code: 20, params: new Map(s.override), offset };
    if ('set' in s) return { kind: 'set-parameters', code: 19, params: new Map(s.set), offset };
    if ('tryEach' in s) return { kind: 'try-each', code: 15, sequences: s.tryEach.map((b) => seq(...b)), allowAllFail: s.allowAllFail ?? false, offset };
    if ('run' in s) return { kind: 'run-sequence', code: 32, sequence: seq(...s.run), offset };
    if ('multiple' in s) return { kind: 'override-multiple', code: 34, byComponent: new Map(s.multiple.map(([k, p]) => [k, new Map(p) as ParameterMap])), offset };
    if ('copyParams' in s) return { kind: 'copy-params', code: 35, bySource: new Map(s.copyParams), offset };
    return { kind: 'custom', code: s.custom, arg: s.arg ?? null, offset };
  });
  return { commands, bytes: new Uint8Array([0x80 + Math.min(commands.length, 23)]) };
}

export function manifest(parts: Partial<Omit<SuitManifest, 'common'>> & { components?: ComponentId[]; shared?: CommandSequence; dependencies?: SuitManifest['common']['dependencies'] }): SuitManifest {
  const { components = [[new Uint8Array([0])]], shared, dependencies, ...rest } = parts;
  const common: SuitManifest['common'] = { components, bytes: new Uint8Array() };
  if (shared) common.sharedSequence = shared;
  if (dependencies) common.dependencies = dependencies;
  return { version: 1, sequenceNumber: 1, extensions: new Map(), bytes: new Uint8Array(), ...rest, common };
}

export const C0: ComponentId = [new Uint8Array([0])];
export const C1: ComponentId = [new Uint8Array([1])];
export const C2: ComponentId = [new Uint8Array([2])];
