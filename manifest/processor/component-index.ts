/**
 * The component table and the current component index (§8.4.10.1 set-component-index): uint, `true`
 * (all components) or a non-empty array; every command runs once per selected component, in order.
 */
import { UpdateError } from '../errors.js';
import type { Command, ComponentId, SuitManifest } from '../model.js';
import { Abort } from './failures.js';
import type { SuitRecord } from './report.js';

/**
 * Component ids by index: suit-components, extended by dependency indices beyond it (trust-domains
 * lenient reading) with the dependency prefix as id. More than `max` is PROCESSOR_LIMIT.
 */
export function componentTable(m: SuitManifest, max: number): (ComponentId | undefined)[] {
  const ids: (ComponentId | undefined)[] = [...m.common.components];
  for (const [idx, dep] of m.common.dependencies ?? []) {
    if (idx >= max) break;
    if (idx >= ids.length) {
      while (ids.length < idx) ids.push(undefined);
      ids[idx] = dep.prefix;
    }
  }
  if (ids.length > max || [...(m.common.dependencies?.keys() ?? [])].some((k) => k >= max)) {
    throw new UpdateError('PROCESSOR_LIMIT', `manifest has ${ids.length} components; this processor supports ${max}`);
  }
  return ids;
}

export class ComponentSelection {
  /** Selected component indices, in execution order. */
  selection: number[] = [0];

  /** Component ids by index (empty until `load`). */
  ids: readonly (ComponentId | undefined)[] = [];

  /** `recordAt(offset, idx)`: the record an index error is reported with. */
  constructor(private readonly recordAt: (offset: number, idx: number) => SuitRecord) {}

  load(ids: readonly (ComponentId | undefined)[]): void {
    this.ids = ids;
  }

  get count(): number {
    return this.ids.length;
  }

  reset(): void {
    this.selection = [0];
  }

  check(idx: number, cmd: Command): void {
    if (!Number.isSafeInteger(idx) || idx < 0 || idx >= this.count) {
      throw new Abort(
        new UpdateError('COMPONENT_UNKNOWN', `component index ${idx} is not in the manifest (it has ${this.count})`),
        this.recordAt(cmd.offset, Math.max(0, Math.min(idx, 0xffffffff)) || 0),
      );
    }
  }

  select(cmd: Extract<Command, { kind: 'set-component-index' }>): void {
    const arg = cmd.index;
    if (arg === true) {
      this.selection = this.ids.map((_, i) => i);
    } else if (Array.isArray(arg)) {
      if (arg.length === 0) throw new Abort(new UpdateError('MANIFEST_MALFORMED', 'set-component-index with an empty array'), this.recordAt(cmd.offset, 0));
      for (const i of arg) this.check(i, cmd);
      this.selection = [...arg];
    } else {
      this.check(arg, cmd);
      this.selection = [arg];
    }
  }

  id(idx: number, cmd: Command): ComponentId {
    const id = this.ids[idx];
    if (id === undefined) {
      throw new Abort(new UpdateError('COMPONENT_UNKNOWN', `component ${idx} has no identifier`), this.recordAt(cmd.offset, idx));
    }
    return id;
  }
}
