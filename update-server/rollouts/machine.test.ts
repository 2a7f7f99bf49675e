import { describe, expect, it } from 'vitest';
import { isUpdateError } from '../../manifest/index.js';
import { evaluate, nextAssignmentState, transition } from './machine.js';
import { ASSIGNMENT_RANK, PhasesSchema } from './model.js';

describe('transition', () => {
  it('follows draft→running→paused→running→cancelled', () => {
    expect(transition('draft', 'start')).toBe('running');
    expect(transition('running', 'pause')).toBe('paused');
    expect(transition('paused', 'resume')).toBe('running');
    expect(transition('running', 'cancel')).toBe('cancelled');
    expect(transition('draft', 'cancel')).toBe('cancelled');
  });
  it.each([
    ['completed', 'pause'], ['cancelled', 'resume'], ['running', 'resume'], ['paused', 'pause'], ['running', 'start'], ['completed', 'cancel'], ['cancelled', 'cancel'],
  ] as const)('refuses %s --%s--> with CONFLICT', (from, action) => {
    try {
      transition(from, action);
      expect.unreachable();
    } catch (e) {
      expect(isUpdateError(e, 'CONFLICT')).toBe(true);
    }
  });
});

describe('evaluate', () => {
  const phases = PhasesSchema.parse([
    { percent: 10, success: { confirmedPercent: 90, minDevices: 5 }, errorThreshold: { maxFailedPercent: 20, minSample: 5 } },
    { percent: 100, success: { confirmedPercent: 95, minDevices: 1 }, errorThreshold: { maxFailed: 3 } },
  ]);
  const r = (phase: number, state: 'running' | 'paused' = 'running') => ({ state, phase, phases });

  it('advances when the current phase reaches its success condition', () => {
    expect(evaluate(r(0), [{ confirmed: 4 }])).toEqual({ kind: 'none' }); // below minDevices
    expect(evaluate(r(0), [{ confirmed: 8, downloading: 2 }])).toEqual({ kind: 'none' }); // 80% < 90%
    expect(evaluate(r(0), [{ confirmed: 9, installed: 1 }])).toEqual({ kind: 'advance', to: 1 });
  });
  it('completes after the last phase', () => {
    expect(evaluate(r(1), [{ confirmed: 10 }, { confirmed: 95, booted: 5 }])).toEqual({ kind: 'complete' });
  });
  it('pauses on the percent error threshold only once the sample is large enough', () => {
    expect(evaluate(r(0), [{ failed: 1 }])).toEqual({ kind: 'none' }); // 1 device: below minSample
    expect(evaluate(r(0), [{ failed: 2, confirmed: 3 }]).kind).toBe('pause'); // 40% > 20%
    expect(evaluate(r(0), [{ failed: 1, confirmed: 4 }]).kind).toBe('none'); // 20% is not > 20%
  });
  it('pauses on the count threshold, also for late failures in an earlier phase', () => {
    expect(evaluate(r(1), [{ confirmed: 10 }, { reverted: 2, failed: 1 }]).kind).toBe('pause');
    expect(evaluate(r(1), [{ confirmed: 5, failed: 5 }, { confirmed: 1 }]).kind).toBe('pause');
  });
  it('does nothing unless running; superseded devices leave the population', () => {
    expect(evaluate(r(0, 'paused'), [{ confirmed: 10 }])).toEqual({ kind: 'none' });
    expect(evaluate(r(0), [{ confirmed: 9, superseded: 50 }])).toEqual({ kind: 'advance', to: 1 });
  });
  it('manual phases wait for an explicit advance', () => {
    const manual = PhasesSchema.parse([{ count: 2, advance: 'manual' }, { percent: 100 }]);
    expect(evaluate({ state: 'running', phase: 0, phases: manual }, [{ confirmed: 2 }])).toEqual({ kind: 'none' });
    expect(evaluate({ state: 'running', phase: 0, phases: manual }, [{ confirmed: 2 }], { manualAdvance: true })).toEqual({ kind: 'advance', to: 1 });
  });
});

describe('nextAssignmentState', () => {
  const n = (a: Parameters<typeof nextAssignmentState>[0], b: Parameters<typeof nextAssignmentState>[1]) => nextAssignmentState(a, b, ASSIGNMENT_RANK);
  it('moves only forward', () => {
    expect(n('assigned', 'downloading')).toBe('downloading');
    expect(n('installed', 'downloading')).toBeNull();
    expect(n('booted', 'confirmed')).toBe('confirmed');
    expect(n('downloading', 'failed')).toBe('failed');
    expect(n('confirmed', 'reverted')).toBe('reverted');
    expect(n('failed', 'confirmed')).toBeNull();
    expect(n('superseded', 'confirmed')).toBeNull();
  });
});
