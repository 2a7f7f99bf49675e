/**
 * The public face of `manifest/`: SUIT/COSE wire formats and the processor that runs them.
 * Other parts import only from here. Contract: docs/manifest-api.md.
 */
export * from './errors.js';
export * from './cbor.js';
export * from './keys.js';
export type * from './model.js';
export * from './envelope/index.js';
export * from './cose/index.js';
export * from './processor/index.js';
