/**
 * Directives (§8.4.10, trust-domains §6, update-management §4): the commands that act — fetch, write,
 * copy, swap, invoke, wait, unlink, process-dependency — and custom commands. A directive failure aborts
 * processing (it is never absorbed by soft-failure).
 */
import { UpdateError } from '../errors.js';
import { CMD, PARAM } from '../keys.js';
import type { Command } from '../model.js';
import type { CommandRun } from './command-run.js';
import { failCondition } from './failures.js';
import { commandName } from './names.js';
import { toBig } from './parameters.js';

/** Run directive `cmd` on component `idx`. */
export async function runDirective(run: CommandRun, cmd: Extract<Command, { kind: 'directive' }>, idx: number): Promise<void> {
  const p = run.platform;
  switch (cmd.code) {
    case CMD.FETCH: {
      const uri = run.params.need(idx, PARAM.URI, cmd, (v): v is string => typeof v === 'string', 'uri');
      const id = run.components.id(idx, cmd);
      const integrated = run.integrated?.get(uri);
      if (integrated !== undefined) {
        await p.write(id, integrated, run.ctx(idx, cmd));
        return;
      }
      const args = run.params.of(idx).get(PARAM.FETCH_ARGUMENTS);
      await p.fetch(uri, args instanceof Uint8Array ? args : undefined, id, run.ctx(idx, cmd));
      return;
    }
    case CMD.WRITE: {
      const content = run.params.need(idx, PARAM.CONTENT, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'content');
      await p.write(run.components.id(idx, cmd), content, run.ctx(idx, cmd));
      return;
    }
    case CMD.COPY:
    case CMD.SWAP: {
      const src = Number(run.params.need(idx, PARAM.SOURCE_COMPONENT, cmd, (v): v is number | bigint => toBig(v) !== undefined, 'source-component'));
      run.components.check(src, cmd);
      // §8.4.2.1 strict-order false: a component may not be both source and target.
      if (src === idx) {
        throw new UpdateError('MANIFEST_MALFORMED', `${commandName(cmd.code)}: source and target are both component ${idx}${run.params.strictOrder ? '' : ' (strict-order is false)'}`);
      }
      const dst = run.components.id(idx, cmd);
      const from = run.components.id(src, cmd);
      if (cmd.code === CMD.COPY) await p.copy(dst, from, run.ctx(idx, cmd));
      else await p.swap(dst, from, run.ctx(idx, cmd));
      return;
    }
    case CMD.INVOKE: {
      const args = run.params.of(idx).get(PARAM.INVOKE_ARGS);
      await p.invoke(run.components.id(idx, cmd), args instanceof Uint8Array ? args : undefined, run.ctx(idx, cmd));
      return;
    }
    case CMD.WAIT: {
      if (!p.waitFor) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform cannot wait for events');
      const info = run.params.need(idx, PARAM.WAIT_INFO, cmd, (v): v is Uint8Array => v instanceof Uint8Array, 'wait-info');
      await p.waitFor(info, run.ctx(idx, cmd));
      return;
    }
    case CMD.UNLINK: {
      if (!p.unlink) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not support unlink');
      await p.unlink(run.components.id(idx, cmd), run.ctx(idx, cmd));
      return;
    }
    case CMD.PROCESS_DEPENDENCY: {
      if (!p.processDependency) throw new UpdateError('COMMAND_UNSUPPORTED', 'this platform does not process dependencies');
      const deps = run.manifest.common.dependencies;
      // trust-domains §6.5: only for a dependency that passed dependency-integrity (or a dependency
      // image-match) earlier in this run; the platform authenticates the dependency again when processing it.
      if (!deps?.has(idx)) throw new UpdateError('DEPENDENCY_FAILED', `component ${idx} is not a dependency`);
      if (run.requireDependencyIntegrity && !run.verifiedDependencies.has(idx)) throw new UpdateError('DEPENDENCY_FAILED', `dependency ${idx} has not passed dependency-integrity`);
      const prefix = deps.get(idx)?.prefix;
      const records = await p.processDependency({ ...run.ctx(idx, cmd), ...(prefix ? { prefix } : {}) });
      if (Array.isArray(records)) run.records.push(...records);
      return;
    }
    default:
      // update-management: an unknown command rejects the manifest.
      throw new UpdateError('COMMAND_UNSUPPORTED', `unknown command ${cmd.code}`);
  }
}

/** A custom command (the platform's `customCommands`); a custom condition that is not true fails. */
export async function runCustom(run: CommandRun, cmd: Extract<Command, { kind: 'custom' }>, idx: number): Promise<void> {
  const h = run.platform.customCommands?.get(cmd.code);
  if (!h) throw new UpdateError('COMMAND_UNSUPPORTED', `custom command ${cmd.code} is not supported by this platform`);
  const r = await h.run(cmd.arg, run.ctx(idx, cmd));
  if (h.kind === 'condition' && r !== true) failCondition('CONDITION_FAILED', `custom condition ${cmd.code} failed`);
}
