import { describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { BUCKETS, bucketOf, compileTarget, evalTagExpr, inScope, parseTagExpr, phaseAdmits, type DeviceFacts } from './selection.js';
import { PhasesSchema, RolloutTargetSchema } from './model.js';

const dev = (over: Partial<DeviceFacts> = {}): DeviceFacts => ({
  id: 'd1', tenantId: 't1', vendorId: 'v', classId: 'c', tags: [], groups: [], currentSeq: 3n, ...over,
});

describe('bucketOf', () => {
  it('is stable and roughly uniform', () => {
    expect(bucketOf('r1', 'd1')).toBe(bucketOf('r1', 'd1'));
    let below10 = 0;
    for (let i = 0; i < 20_000; i++) {
      const b = bucketOf('r1', `dev-${i}`);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(BUCKETS);
      if (b < 1000) below10++;
    }
    // 10% ± 1% of 20k
    expect(below10).toBeGreaterThan(1800);
    expect(below10).toBeLessThan(2200);
  });
  it('depends on the rollout, so the same devices are not always first', () => {
    let same = 0;
    for (let i = 0; i < 1000; i++) if ((bucketOf('a', `d${i}`) < 1000) === (bucketOf('b', `d${i}`) < 1000)) same++;
    expect(same).toBeLessThan(900);
  });
});

describe('tag expressions', () => {
  const t = (s: string, tags: string[]): boolean => evalTagExpr(parseTagExpr(s), new Set(tags));
  it('evaluates precedence ! > & > |', () => {
    expect(t('eu & !beta', ['eu'])).toBe(true);
    expect(t('eu & !beta', ['eu', 'beta'])).toBe(false);
    expect(t('a | b & c', ['a'])).toBe(true);
    expect(t('(a | b) & c', ['a'])).toBe(false);
    expect(t('!(a | b)', [])).toBe(true);
  });
  it.each([
    ['', 'empty'], ['a &', 'dangling operator'], ['(a', 'missing )'], ['a b', 'two atoms'], ['a ) ', 'stray )'], ['a $ b', 'bad character'],
    ['('.repeat(100) + 'a' + ')'.repeat(100), 'too deep'],
  ])('refuses %j (%s) with VALIDATION_FAILED', (src) => {
    try {
      parseTagExpr(src);
      expect.unreachable();
    } catch (e) {
      expect(isUpdateError(e, 'VALIDATION_FAILED')).toBe(true);
    }
  });
});

describe('compileTarget', () => {
  it('matches each target kind', () => {
    const m = (t: unknown, d: DeviceFacts): boolean => compileTarget(RolloutTargetSchema.parse(t))(d);
    expect(m({ kind: 'all' }, dev())).toBe(true);
    expect(m({ kind: 'tags', tags: ['eu', 'gw'] }, dev({ tags: ['eu'] }))).toBe(false);
    expect(m({ kind: 'tags', tags: ['eu', 'gw'], match: 'any' }, dev({ tags: ['eu'] }))).toBe(true);
    expect(m({ kind: 'group', groupId: 'g1' }, dev({ groups: ['g1'] }))).toBe(true);
    expect(m({ kind: 'group', groupId: 'g1' }, dev({ groups: [] }))).toBe(false);
    expect(m({ kind: 'filter', sequenceBelow: 4 }, dev({ currentSeq: 3n }))).toBe(true);
    expect(m({ kind: 'filter', sequenceBelow: 3 }, dev({ currentSeq: 3n }))).toBe(false);
    expect(m({ kind: 'filter', sequenceBelow: 3, tags: 'eu' }, dev({ currentSeq: null, tags: ['eu'] }))).toBe(true);
    expect(m({ kind: 'devices', deviceIds: ['d1'] }, dev())).toBe(true);
    expect(m({ kind: 'devices', deviceIds: ['d2'] }, dev())).toBe(false);
  });
  it('scopes by tenant, vendor and class', () => {
    expect(inScope({ tenantId: null, vendorId: 'v', classId: 'c' }, dev())).toBe(true);
    expect(inScope({ tenantId: 't2', vendorId: 'v', classId: 'c' }, dev())).toBe(false);
    expect(inScope({ tenantId: 't1', vendorId: 'v', classId: 'other' }, dev())).toBe(false);
  });
});

describe('phases', () => {
  it('admits by bucket for percent phases and by counter for count phases', () => {
    const [p10, c5] = PhasesSchema.parse([{ percent: 10 }, { count: 5 }]);
    expect(phaseAdmits(p10!, 999, 0)).toBe(true);
    expect(phaseAdmits(p10!, 1000, 0)).toBe(false);
    expect(phaseAdmits(c5!, 9999, 4)).toBe(true);
    expect(phaseAdmits(c5!, 0, 5)).toBe(false);
  });
  it('refuses shrinking cumulative phases and phases with both or neither measure', () => {
    expect(PhasesSchema.safeParse([{ percent: 50 }, { percent: 10 }]).success).toBe(false);
    expect(PhasesSchema.safeParse([{ percent: 50, count: 3 }]).success).toBe(false);
    expect(PhasesSchema.safeParse([{}]).success).toBe(false);
    expect(PhasesSchema.safeParse([{ count: 10 }, { percent: 100 }]).success).toBe(true);
  });
});
