/** Public face of manifest/processor: SUIT command interpreter, Platform port, dry run, SUIT_Report. */
export type {
  Platform,
  IdentityValue,
  ByteSource,
  CommandContext,
  CustomCommandHandler,
  DependencyRequest,
} from './platform.js';
export { componentIdKey, formatComponentId } from './platform.js';
export { Processor, versionMatches, reasonFor, DEFAULT_MAX_STEPS, DEFAULT_MAX_COMPONENTS } from './processor.js';
export type { ProcessorOptions, ProcessResult, RollbackPolicy, TraceEntry } from './processor.js';
export { processEnvelope, processDependencyEnvelope, prefixedPlatform } from './process-envelope.js';
export type { ProcessOptions, DependencyOptions } from './process-envelope.js';
export { SECTIONS, sectionName } from './names.js';
export type { SectionName } from './names.js';
export { encodeReport, decodeReport, reportToCbor, reportFromCbor, recordToCbor, paramToCbor, paramFromCbor, parametersToCbor, REPORT_MAX_BYTES } from './report.js';
export type { SuitReport, SuitRecord, SuitReportFailure, SuitSystemProperties } from './report.js';
export { MemoryPlatform } from './memory-platform.js';
export type { MemoryPlatformOptions } from './memory-platform.js';
export { DryRunPlatform, dryRunEnvelope, describeSequence, describeManifest, UPDATE_AND_INVOKE } from './dry-run.js';
export type { DryRunOperation, DryRunOptions } from './dry-run.js';
