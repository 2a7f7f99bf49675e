/**
 * The one place the device touches delta/ (so a change of the delta API is a one-file change).
 * DeltaDecoder streams a patch into pages of the new image in bounded RAM (docs/delta-format.md).
 */
export { DeltaDecoder, applyDelta, decoderRamBytes, readDeltaHeader, encodeDelta } from '../delta/index.js';
