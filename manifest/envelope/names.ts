/**
 * Human names of SUIT numbers, for summaries, reports and error messages (draft-ietf-suit-manifest-37
 * IANA tables, plus trust-domains and update-management). Unknown numbers print as their number.
 */
import { CMD, COMMON, CONDITIONS, ENV, MAN, PARAM } from '../keys.js';

function kebab(name: string): string {
  return name.toLowerCase().replace(/_/g, '-');
}

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, kebab(k)]));
}

const commandNames = invert(CMD);
const paramNames = invert(PARAM);
const manifestNames = invert(MAN);
const envelopeNames = invert(ENV);
const commonNames = invert(COMMON);

/** `condition-vendor-identifier`, `directive-fetch`, `custom-(-257)` or `command-99`. */
export function commandName(code: number): string {
  if (code < 0) return `custom(${code})`;
  const n = commandNames.get(code);
  if (!n) return `command-${code}`;
  return `${CONDITIONS.has(code) ? 'condition' : 'directive'}-${n}`;
}

export function paramName(code: number): string {
  return paramNames.get(code) ?? (code < 0 ? `custom(${code})` : `parameter-${code}`);
}

export function manifestMemberName(key: number): string {
  return manifestNames.get(key) ?? `member-${key}`;
}

export function envelopeMemberName(key: number | string): string {
  if (typeof key === 'string') return `integrated "${key}"`;
  return envelopeNames.get(key) ?? `member-${key}`;
}

export function commonMemberName(key: number): string {
  return commonNames.get(key) ?? `member-${key}`;
}

/** Model field of each command-sequence manifest member. */
export const SEQUENCE_MEMBERS = {
  [MAN.VALIDATE]: 'validate',
  [MAN.LOAD]: 'load',
  [MAN.INVOKE]: 'invoke',
  [MAN.UNINSTALL]: 'uninstall',
  [MAN.DEPENDENCY_RESOLUTION]: 'dependencyResolution',
  [MAN.PAYLOAD_FETCH]: 'payloadFetch',
  [MAN.CANDIDATE_VERIFICATION]: 'candidateVerification',
  [MAN.INSTALL]: 'install',
} as const;
