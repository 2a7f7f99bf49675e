/** Human names of commands, parameters and sections for traces, dry runs and messages. */
import { CMD, CONDITIONS, MAN, PARAM } from '../keys.js';

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]));
}
const commands = invert(CMD);
const params = invert(PARAM);

/** `condition-vendor-identifier`, `directive-fetch`, `custom(-257)`, `command-99`. */
export function commandName(code: number): string {
  if (code < 0) return `custom(${code})`;
  const n = commands.get(code);
  if (n === undefined) return `command-${code}`;
  return `${CONDITIONS.has(code) ? 'condition' : 'directive'}-${n}`;
}

export function paramName(code: number): string {
  return params.get(code) ?? (code < 0 ? `custom(${code})` : `parameter-${code}`);
}

/** Section names accepted by `processEnvelope`, in the order of the Update + Invocation procedures. */
export const SECTIONS = {
  'dependency-resolution': MAN.DEPENDENCY_RESOLUTION,
  'payload-fetch': MAN.PAYLOAD_FETCH,
  'candidate-verification': MAN.CANDIDATE_VERIFICATION,
  install: MAN.INSTALL,
  validate: MAN.VALIDATE,
  load: MAN.LOAD,
  invoke: MAN.INVOKE,
  uninstall: MAN.UNINSTALL,
} as const;
export type SectionName = keyof typeof SECTIONS;

export function sectionName(key: number): string {
  for (const [n, k] of Object.entries(SECTIONS)) if (k === key) return n;
  if (key === 4) return 'shared-sequence';
  return `section-${key}`;
}
