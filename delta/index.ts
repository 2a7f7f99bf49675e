/**
 * delta/: device-oriented binary delta codec (docs/delta-format.md).
 *
 * encodeDelta(old, new) -> patch; DeltaDecoder streams a patch into pages of the new image in bounded
 * RAM and can export/resume its state; applyDelta is the in-memory convenience.
 */
export { encodeDelta, type EncodeOptions } from './encoder.js';
export {
  DeltaDecoder,
  applyDelta,
  readDeltaHeader,
  decoderRamBytes,
  DEFAULT_PAGE_SIZE,
  DEFAULT_RAM_BUDGET,
  type ApplyOptions,
  type DeltaDecoderOptions,
  type DeltaDecoderState,
  type DeltaResult,
} from './decoder.js';
export { HEADER_LEN as DELTA_HEADER_LEN, type PatchHeader as DeltaPatchHeader } from './format.js';
