/** What the semantics of one command (conditions.ts, directives.ts, sysinfo.ts) see of a running Processor. */
import type { Command, SuitManifest } from '../model.js';
import type { ComponentSelection } from './component-index.js';
import type { ParameterStore } from './parameters.js';
import type { CommandContext, Platform } from './platform.js';
import type { SuitRecord, SuitSystemProperties } from './report.js';

export interface CommandRun {
  readonly platform: Platform;
  readonly manifest: SuitManifest;
  /** Integrated payloads (URI → bytes): fetch of such a URI writes them instead of calling platform.fetch. */
  readonly integrated: ReadonlyMap<string, Uint8Array> | undefined;
  /** process-dependency requires a passed dependency-integrity or dependency image-match (trust-domains §6.5). */
  readonly requireDependencyIntegrity: boolean;
  readonly params: ParameterStore;
  readonly components: ComponentSelection;
  /** Dependencies that passed dependency-integrity or a dependency image-match in this run. */
  readonly verifiedDependencies: Set<number>;
  readonly records: SuitRecord[];
  /** system-property-claims per component (one entry per component; later values replace earlier ones). */
  readonly systemProperties: Map<string, SuitSystemProperties>;
  ctx(idx: number, cmd: Command): CommandContext;
}
