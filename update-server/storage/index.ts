export type { ObjectStore, ObjectInfo, PutExpect, ByteRange, GetResult, UploadStatus } from './port.js';
export { FsObjectStore } from './fs.js';
export { S3ObjectStore, type S3Options } from './s3.js';
export { assertObjectKey, assertSha256Hex, payloadKey, envelopeKey } from './keys.js';
export { parseRangeHeader, resolveRange } from './range.js';
