/**
 * The object store port: payloads, envelopes and (later) deltas. Backends: filesystem (`fs.ts`) and
 * S3/MinIO (`s3.ts`); both pass `contract.test.ts`.
 *
 * Invariant: an object becomes visible under its key only after its bytes are complete and match the
 * expected sha256 and size. Nothing half-written is ever served.
 */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  /** sha256 hex when the backend knows it (always after put). */
  sha256?: string;
}

export interface PutExpect {
  /** Required hex sha256 of the complete object; a mismatch stores nothing (PAYLOAD_DIGEST_MISMATCH). */
  sha256?: string;
  /** Expected byte count; a mismatch stores nothing. */
  size?: number;
  /** Refuse (INPUT_TOO_LARGE) once more than this many bytes arrive. */
  maxBytes?: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive; omitted = to the end. */
  end?: number;
}

export interface GetResult {
  info: ObjectInfo;
  /** The range actually served (inclusive bounds). */
  start: number;
  end: number;
  body: Readable;
}

export interface UploadStatus {
  key: string;
  sha256: string;
  size: number;
  /** Bytes received so far; the next append must start here. */
  offset: number;
  complete: boolean;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /**
   * Streams `body` to `key`. The bytes are hashed while they stream, written under a temporary name,
   * made durable, and only then renamed/copied to `key`. Idempotent: putting identical bytes again is a
   * no-op that returns the same info.
   */
  put(key: string, body: Readable | Uint8Array, expect?: PutExpect): Promise<ObjectInfo>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Throws NOT_FOUND, or RANGE_NOT_SATISFIABLE when the range starts past the end. */
  get(key: string, range?: ByteRange): Promise<GetResult>;
  delete(key: string): Promise<void>;
  /** A time-limited URL a device can GET directly (S3), or null when the server must serve it (fs). */
  presignGet(key: string, expiresSeconds: number): Promise<string | null>;

  // Resumable uploads for large objects: a session per key with a fixed sha256 and size.
  /** Opens (or returns the existing) session; idempotent. CONFLICT if a session with another digest/size exists. */
  beginUpload(key: string, sha256: string, size: number): Promise<UploadStatus>;
  uploadStatus(key: string): Promise<UploadStatus | null>;
  /**
   * Appends bytes at `offset` (must equal the current offset, else CONFLICT with details.offset).
   * When the final byte arrives the digest is checked and the object published atomically; on a
   * mismatch the session is discarded (PAYLOAD_DIGEST_MISMATCH).
   */
  appendUpload(key: string, offset: number, body: Readable | Uint8Array): Promise<UploadStatus>;
  abortUpload(key: string): Promise<void>;

  /** Liveness for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
