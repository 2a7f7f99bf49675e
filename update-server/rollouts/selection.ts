/**
 * Lazy selection: whether a device belongs to a rollout, and whether its current phase admits it, is
 * decided when the device polls, from the rollout row and the device alone. Starting a rollout over a
 * million devices therefore writes one row, not a million.
 *
 * Percent phases: a stable hash of (rollout id, device id) gives every device a bucket in [0, 10000);
 * a phase at p% admits buckets below p·100. The hash is keyed by the rollout, so the same devices are
 * not always first in every rollout. Count phases: a counter on the rollout row (admit while
 * admitted < cumulative count).
 */
import { createHash } from 'node:crypto';
import { UpdateError } from '../../manifest/index.js';
import type { PhaseSpec, RolloutTarget } from './model.js';
import { toSeq } from '../util/seq.js';

export const BUCKETS = 10_000;

/** Stable bucket of a device in a rollout, uniform over [0, 10000). */
export function bucketOf(rolloutId: string, deviceId: string): number {
  const h = createHash('sha256').update(rolloutId).update('\0').update(deviceId).digest();
  // 32 bits → [0, BUCKETS): bias < 10000 / 2^32, negligible.
  return Math.floor((h.readUInt32BE(0) / 0x1_0000_0000) * BUCKETS);
}

/** What selection needs to know about a device. */
export interface DeviceFacts {
  id: string;
  tenantId: string | null;
  vendorId: string;
  classId: string;
  tags: readonly string[];
  groups: readonly string[];
  currentSeq: bigint | null;
}

// ---- tag expressions: expr := or; or := and ('|' and)*; and := not ('&' not)*; not := '!' not | atom; atom := tag | '(' or ')'
export type TagExpr =
  | { op: 'tag'; tag: string }
  | { op: 'not'; e: TagExpr }
  | { op: 'and' | 'or'; l: TagExpr; r: TagExpr };

const MAX_EXPR_DEPTH = 32;

export function parseTagExpr(src: string): TagExpr {
  const toks = src.match(/[A-Za-z0-9_.:-]+|[&|!()]|\S/g) ?? [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new UpdateError('VALIDATION_FAILED', `tag expression: ${msg}`);
  };
  const peek = (): string | undefined => toks[i];
  const parseOr = (d: number): TagExpr => {
    let l = parseAnd(d);
    while (peek() === '|') { i++; l = { op: 'or', l, r: parseAnd(d) }; }
    return l;
  };
  const parseAnd = (d: number): TagExpr => {
    let l = parseNot(d);
    while (peek() === '&') { i++; l = { op: 'and', l, r: parseNot(d) }; }
    return l;
  };
  const parseNot = (d: number): TagExpr => {
    if (d > MAX_EXPR_DEPTH) fail('nested too deeply');
    const t = peek();
    if (t === '!') { i++; return { op: 'not', e: parseNot(d + 1) }; }
    if (t === '(') {
      i++;
      const e = parseOr(d + 1);
      if (peek() !== ')') fail('missing )');
      i++;
      return e;
    }
    if (t === undefined) return fail('unexpected end');
    if (!/^[A-Za-z0-9_.:-]+$/.test(t)) return fail(`unexpected '${t}'`);
    i++;
    return { op: 'tag', tag: t };
  };
  const e = parseOr(0);
  if (i !== toks.length) fail(`unexpected '${toks[i]}'`);
  return e;
}

export function evalTagExpr(e: TagExpr, tags: ReadonlySet<string>): boolean {
  switch (e.op) {
    case 'tag': return tags.has(e.tag);
    case 'not': return !evalTagExpr(e.e, tags);
    case 'and': return evalTagExpr(e.l, tags) && evalTagExpr(e.r, tags);
    case 'or': return evalTagExpr(e.l, tags) || evalTagExpr(e.r, tags);
  }
}

/** A target compiled once per rollout (sets, parsed expressions), evaluated per poll. */
export type TargetMatcher = (d: DeviceFacts) => boolean;

/**
 * `groupName`: devices list their groups by name (unique per tenant), so a group target is matched by the
 * name of the group its id resolved to when the rollout was loaded.
 */
export function compileTarget(t: RolloutTarget, opts: { groupName?: string } = {}): TargetMatcher {
  switch (t.kind) {
    case 'all':
      return () => true;
    case 'tags': {
      const want = t.tags;
      return t.match === 'any' ? (d) => want.some((x) => d.tags.includes(x)) : (d) => want.every((x) => d.tags.includes(x));
    }
    case 'group': {
      const g = opts.groupName ?? t.groupId;
      return (d) => d.groups.includes(g);
    }
    case 'filter': {
      const expr = t.tags === undefined ? undefined : parseTagExpr(t.tags);
      const below = t.sequenceBelow === undefined ? undefined : toSeq(t.sequenceBelow)!;
      return (d) =>
        (below === undefined || d.currentSeq === null || d.currentSeq < below) &&
        (expr === undefined || evalTagExpr(expr, new Set(d.tags)));
    }
    case 'devices': {
      const ids = new Set(t.deviceIds);
      return (d) => ids.has(d.id);
    }
  }
}

/** Whether the rollout's scope (tenant, vendor, class) covers the device at all. */
export function inScope(r: { tenantId: string | null; vendorId: string; classId: string }, d: DeviceFacts): boolean {
  return (r.tenantId === null || r.tenantId === d.tenantId) && r.vendorId === d.vendorId && r.classId === d.classId;
}

/**
 * Whether phase `phase` admits a new device. `admitted` is the rollout's counter (devices admitted so
 * far, all phases). Devices admitted earlier keep their assignment; this only decides new ones.
 */
export function phaseAdmits(p: PhaseSpec, bucket: number, admitted: number): boolean {
  if (p.percent !== undefined) return bucket < Math.round(p.percent * (BUCKETS / 100));
  return admitted < (p.count ?? 0);
}
