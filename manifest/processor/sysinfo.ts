/** SUIT_Report system-property-claims (report-18): what the device itself has for a checked property. */
import { CMD, PARAM } from '../keys.js';
import type { Command, ParameterMap } from '../model.js';
import type { CommandRun } from './command-run.js';
import { ID_CONDITIONS, identityMatches } from './conditions.js';
import { isDigest } from './parameters.js';
import { componentIdKey } from './platform.js';

/**
 * report-18 sysinfo bits: the device's own value for what the command checked, as
 * system-property-claims. Best effort: a value the platform cannot give is left out, and a failing
 * query never changes the outcome of the command.
 */
export async function collectSysinfo(run: CommandRun, cmd: Command, idx: number): Promise<void> {
  const id = run.components.ids[idx];
  if (id === undefined || cmd.kind !== 'condition') return;
  const p = run.platform;
  const props: ParameterMap = new Map();
  try {
    switch (cmd.code) {
      case CMD.VENDOR_IDENTIFIER:
      case CMD.CLASS_IDENTIFIER:
      case CMD.DEVICE_IDENTIFIER: {
        const c = ID_CONDITIONS[cmd.code]!;
        const want = run.params.of(idx).get(c.param);
        const have = await p[c.which](id);
        const pick = have.find((h) => want !== undefined && identityMatches(want, h)) ?? have[0];
        if (pick !== undefined) props.set(c.param, pick);
        break;
      }
      case CMD.IMAGE_MATCH:
      case CMD.IMAGE_NOT_MATCH: {
        const want = run.params.of(idx).get(PARAM.IMAGE_DIGEST);
        const size = await p.size(id);
        if (size !== undefined) props.set(PARAM.IMAGE_SIZE, size);
        if (isDigest(want) && size !== undefined) {
          const d = await p.digest(id, want.alg);
          if (d !== undefined) props.set(PARAM.IMAGE_DIGEST, d);
        }
        break;
      }
      case CMD.COMPONENT_SLOT: {
        const slot = await p.componentSlot(id);
        if (slot !== undefined) props.set(PARAM.COMPONENT_SLOT, slot);
        break;
      }
      case CMD.MINIMUM_BATTERY:
        if (p.batteryMilliwattHours) props.set(PARAM.MINIMUM_BATTERY, Math.max(0, Math.floor(await p.batteryMilliwattHours())));
        break;
      case CMD.VERSION: {
        const v = p.currentVersion ? await p.currentVersion(id) : undefined;
        if (v !== undefined && v.length > 0) props.set(PARAM.VERSION, { cmp: 3, version: [...v] });
        break;
      }
    }
  } catch {
    return;
  }
  if (props.size === 0) return;
  const key = componentIdKey(id);
  const entry = run.systemProperties.get(key) ?? { componentId: id, properties: new Map() };
  for (const [k, v] of props) entry.properties.set(k, v);
  run.systemProperties.set(key, entry);
}
