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
