/**
 * The one error table of the whole system.
 *
 * Every failure anywhere (decoder, verifier, processor, device, delta codec, server, CLI) is an
 * `UpdateError` whose `code` is a key of `ERRORS`. The code is the stable contract: tests assert it,
 * scripts match on it, devices report its byte. Messages are for people and may change.
 *
 * Columns:
 *  - http:   status the server answers with (`{ error: { code, message } }`)
 *  - exit:   CLI exit status (BSD sysexits: 64 usage, 65 data, 66 no input, 69 unavailable,
 *            70 internal, 73 cannot create, 74 I/O, 75 try again, 77 security refusal)
 *  - report: the byte a device puts in its SUIT_Report / status report (0x00 = success, never used here)
 *  - what:   one line for docs/errors.md
 *
 * Codes are never renumbered or reused; add new ones at the end of their group.
 */
export const ERRORS = {
  // --- untrusted bytes: size and CBOR well-formedness (limit → decode) ---
  INPUT_TOO_LARGE: { http: 413, exit: 65, report: 0x01, what: 'Input is larger than the configured limit; nothing was decoded.' },
  CBOR_MALFORMED: { http: 400, exit: 65, report: 0x02, what: 'Bytes are not well-formed CBOR (truncated, reserved additional info, bad UTF-8, ...).' },
  CBOR_INDEFINITE_LENGTH: { http: 400, exit: 65, report: 0x03, what: 'Indefinite-length CBOR items are refused.' },
  CBOR_DUPLICATE_KEY: { http: 400, exit: 65, report: 0x04, what: 'A CBOR map repeats a key.' },
  CBOR_TRAILING_BYTES: { http: 400, exit: 65, report: 0x05, what: 'Bytes remain after the single top-level CBOR item.' },
  CBOR_TOO_DEEP: { http: 400, exit: 65, report: 0x06, what: 'CBOR nesting exceeds the depth limit.' },
  CBOR_NOT_PREFERRED: { http: 400, exit: 65, report: 0x07, what: 'CBOR is not in deterministic (preferred, sorted-key) encoding where that is required.' },
  CBOR_UNSUPPORTED: { http: 400, exit: 65, report: 0x08, what: 'A CBOR feature outside the profile (floats, big integers, undefined simple values) was used.' },

  // --- shape of SUIT / COSE structures ---
  ENVELOPE_MALFORMED: { http: 400, exit: 65, report: 0x10, what: 'The SUIT_Envelope does not have the required shape (tag, members, types).' },
  MANIFEST_MALFORMED: { http: 400, exit: 65, report: 0x11, what: 'The SUIT_Manifest does not have the required shape.' },
  MANIFEST_VERSION_UNSUPPORTED: { http: 422, exit: 65, report: 0x12, what: 'suit-manifest-version is not 1.' },
  COSE_MALFORMED: { http: 400, exit: 65, report: 0x13, what: 'A COSE structure (Sign1, Sign, Mac0, Key) is malformed.' },
  KEY_MALFORMED: { http: 400, exit: 65, report: 0x14, what: 'A key (PEM, COSE_Key, raw) cannot be parsed or is not a valid point.' },
  REPORT_MALFORMED: { http: 400, exit: 65, report: 0x15, what: 'A SUIT_Report or device report is malformed.' },
  ANCHOR_STATEMENT_MALFORMED: { http: 400, exit: 65, report: 0x16, what: 'A trust-anchor statement is malformed.' },

  // --- integrity and authenticity (signature) ---
  DIGEST_ALGORITHM_UNSUPPORTED: { http: 422, exit: 65, report: 0x20, what: 'The digest algorithm is not supported (only SHA-256 and SHA-512 family).' },
  MANIFEST_DIGEST_MISMATCH: { http: 422, exit: 77, report: 0x21, what: 'The manifest bytes do not match the signed digest.' },
  SEVERED_MEMBER_MISMATCH: { http: 422, exit: 77, report: 0x22, what: 'A severable member does not match the digest kept in the manifest.' },
  SEVERED_MEMBER_MISSING: { http: 422, exit: 65, report: 0x23, what: 'A severed member is needed but absent from the envelope.' },
  AUTH_MISSING: { http: 422, exit: 77, report: 0x24, what: 'The envelope carries no authentication block.' },
  ALGORITHM_UNSUPPORTED: { http: 422, exit: 65, report: 0x25, what: 'The COSE signature/MAC algorithm is not in the registry or not allowed by policy.' },
  SIGNATURE_INVALID: { http: 422, exit: 77, report: 0x26, what: 'A signature or MAC does not verify.' },
  SIGNATURE_THRESHOLD_NOT_MET: { http: 422, exit: 77, report: 0x27, what: 'Fewer distinct trusted keys signed than the k-of-n policy requires.' },
  KEY_UNTRUSTED: { http: 422, exit: 77, report: 0x28, what: 'No trusted key matches the signature.' },
  KEY_REVOKED: { http: 422, exit: 77, report: 0x29, what: 'The signing key has been revoked by a trust-anchor statement.' },
  ANCHOR_CHAIN_BROKEN: { http: 422, exit: 77, report: 0x2a, what: 'A trust-anchor statement is not signed by the required thresholds of the old and new sets, or its version is not the next one.' },
  PAYLOAD_DIGEST_MISMATCH: { http: 422, exit: 77, report: 0x2b, what: 'A payload or image does not match its signed digest or size.' },

  // --- SUIT processor (meaning) ---
  VENDOR_MISMATCH: { http: 422, exit: 77, report: 0x30, what: 'suit-condition-vendor-identifier failed.' },
  CLASS_MISMATCH: { http: 422, exit: 77, report: 0x31, what: 'suit-condition-class-identifier failed.' },
  DEVICE_MISMATCH: { http: 422, exit: 77, report: 0x32, what: 'suit-condition-device-identifier failed.' },
  ROLLBACK_REJECTED: { http: 409, exit: 77, report: 0x33, what: 'The sequence number (or security counter) is not higher than the one installed.' },
  IMAGE_MISMATCH: { http: 422, exit: 77, report: 0x34, what: 'suit-condition-image-match failed (digest or size).' },
  CONDITION_FAILED: { http: 422, exit: 77, report: 0x35, what: 'Another SUIT condition failed (component slot, check-content, version, abort, ...).' },
  COMMAND_UNSUPPORTED: { http: 422, exit: 65, report: 0x36, what: 'A command or parameter the processor does not implement.' },
  COMPONENT_UNKNOWN: { http: 422, exit: 65, report: 0x37, what: 'A component index or identifier that the manifest or device does not have.' },
  PARAMETER_MISSING: { http: 422, exit: 65, report: 0x38, what: 'A command needs a parameter that was never set.' },
  FETCH_FAILED: { http: 502, exit: 69, report: 0x39, what: 'A payload could not be fetched.' },
  INVOKE_FAILED: { http: 500, exit: 70, report: 0x3a, what: 'Invoking the image failed.' },
  PROCESSOR_LIMIT: { http: 422, exit: 65, report: 0x3b, what: 'A processing limit (steps, nesting, components) was exceeded.' },
  DEPENDENCY_FAILED: { http: 422, exit: 77, report: 0x3c, what: 'A dependency manifest failed to process.' },

  // --- delta patches (untrusted transport encoding) ---
  PATCH_MALFORMED: { http: 400, exit: 65, report: 0x40, what: 'A delta patch is malformed or hostile.' },
  PATCH_TRUNCATED: { http: 400, exit: 65, report: 0x41, what: 'A delta patch ended early.' },
  PATCH_PRECURSOR_MISMATCH: { http: 422, exit: 77, report: 0x42, what: 'The patch was made against another precursor image than the one installed.' },
  PATCH_OUTPUT_OVERFLOW: { http: 422, exit: 65, report: 0x43, what: 'Applying the patch would write more than the signed target size.' },
  RAM_BUDGET_EXCEEDED: { http: 422, exit: 70, report: 0x44, what: 'An operation would need more RAM than the device budget allows.' },

  // --- device / flash / bootloader ---
  FLASH_OUT_OF_RANGE: { http: 500, exit: 70, report: 0x50, what: 'A flash access lies outside the device or partition.' },
  FLASH_NOT_ERASED: { http: 500, exit: 70, report: 0x51, what: 'A program operation hit bytes that were not erased.' },
  FLASH_MISALIGNED: { http: 500, exit: 70, report: 0x52, what: 'A flash write or erase is not aligned to the part\'s unit.' },
  FLASH_WORN_OUT: { http: 500, exit: 70, report: 0x53, what: 'A sector exceeded its erase endurance.' },
  POWER_LOSS: { http: 500, exit: 75, report: 0x54, what: 'Simulated power cut: the operation stopped here.' },
  WATCHDOG_EXPIRED: { http: 500, exit: 75, report: 0x55, what: 'An operation ran past the watchdog budget.' },
  SLOT_TOO_SMALL: { http: 422, exit: 65, report: 0x56, what: 'The image does not fit in the slot.' },
  NO_BOOTABLE_IMAGE: { http: 500, exit: 70, report: 0x57, what: 'No slot holds a verified image.' },
  COUNTER_EXHAUSTED: { http: 500, exit: 70, report: 0x58, what: 'A monotonic counter has no increments left.' },
  OTP_LOCKED: { http: 500, exit: 70, report: 0x59, what: 'The one-time-programmable area is already written.' },
  UPDATE_STATE_INVALID: { http: 409, exit: 65, report: 0x5a, what: 'The operation is not allowed in the current update state.' },
  HEALTH_CHECK_FAILED: { http: 422, exit: 70, report: 0x5b, what: 'The application failed its self-test; the image will be reverted.' },

  // --- offline signing tools ---
  USAGE: { http: 400, exit: 64, report: 0x60, what: 'The command line or request is wrong.' },
  FILE_NOT_FOUND: { http: 404, exit: 66, report: 0x61, what: 'An input file does not exist or cannot be read.' },
  FILE_EXISTS: { http: 409, exit: 73, report: 0x62, what: 'The output exists; pass --force to overwrite.' },
  IO_ERROR: { http: 500, exit: 74, report: 0x63, what: 'Reading or writing a file failed.' },
  RELEASE_DESCRIPTION_INVALID: { http: 400, exit: 65, report: 0x64, what: 'The release description (JSON/YAML) is invalid; the message names the field.' },
  KEY_PASSPHRASE_REQUIRED: { http: 400, exit: 77, report: 0x65, what: 'The private key is encrypted and no (or a wrong) passphrase was given.' },
  SIGNER_STATE_EXHAUSTED: { http: 422, exit: 77, report: 0x66, what: 'A stateful (HSS-LMS) key has no signatures left.' },
  SIGNER_STATE_INVALID: { http: 422, exit: 77, report: 0x67, what: 'A stateful key\'s state file is missing, stale, copied or cannot be advanced.' },

  // --- fleet server ---
  VALIDATION_FAILED: { http: 400, exit: 65, report: 0x70, what: 'A request body or parameter fails validation.' },
  AUTH_REQUIRED: { http: 401, exit: 77, report: 0x71, what: 'No or an invalid/expired credential.' },
  FORBIDDEN: { http: 403, exit: 77, report: 0x72, what: 'The credential\'s role or tenant does not allow this.' },
  NOT_FOUND: { http: 404, exit: 66, report: 0x73, what: 'No such resource (or not visible to this tenant).' },
  CONFLICT: { http: 409, exit: 65, report: 0x74, what: 'The request conflicts with the current state (exists, immutable, wrong state).' },
  GONE: { http: 410, exit: 65, report: 0x75, what: 'The assignment or resource was superseded.' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, exit: 65, report: 0x76, what: 'The Content-Type is not accepted here.' },
  RATE_LIMITED: { http: 429, exit: 75, report: 0x77, what: 'Too many requests; retry after the given delay.' },
  PAYLOAD_MISSING: { http: 422, exit: 65, report: 0x78, what: 'A release names a payload the store does not hold.' },
  DEVICE_NOT_ENROLLED: { http: 403, exit: 77, report: 0x79, what: 'The device is unknown, unclaimed or disabled.' },
  CHALLENGE_INVALID: { http: 401, exit: 77, report: 0x7a, what: 'The authentication challenge is unknown, used or expired, or its signature fails.' },
  RANGE_NOT_SATISFIABLE: { http: 416, exit: 65, report: 0x7b, what: 'The requested byte range lies outside the object.' },
  STORAGE_UNAVAILABLE: { http: 503, exit: 69, report: 0x7c, what: 'The state or object store is unavailable; retry.' },
  AUDIT_CHAIN_BROKEN: { http: 500, exit: 77, report: 0x7d, what: 'The audit log hash chain does not verify.' },
  NETWORK_ERROR: { http: 502, exit: 69, report: 0x7e, what: 'A network peer could not be reached or answered badly.' },

  // --- last resort: a bug, never an expected outcome ---
  INTERNAL: { http: 500, exit: 70, report: 0xff, what: 'An unexpected internal error (a bug); details are logged, not returned.' },
} as const satisfies Record<string, { http: number; exit: number; report: number; what: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface UpdateErrorOptions {
  cause?: unknown;
  /** Machine-readable context (field name, offset, expected/actual); never secret material. */
  details?: Record<string, unknown>;
}

export class UpdateError extends Error {
  override readonly name = 'UpdateError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: UpdateErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.details = opts.details;
  }

  get http(): number {
    return ERRORS[this.code].http;
  }
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
  get reportCode(): number {
    return ERRORS[this.code].report;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isUpdateError(e: unknown, code?: ErrorCode): e is UpdateError {
  return e instanceof UpdateError && (code === undefined || e.code === code);
}

/** Wrap anything thrown at a boundary into an UpdateError, keeping the original as `cause`. */
export function toUpdateError(e: unknown, fallback: ErrorCode = 'INTERNAL', message?: string): UpdateError {
  if (e instanceof UpdateError) return e;
  const text = message ?? (e instanceof Error ? e.message : String(e));
  return new UpdateError(fallback, text, { cause: e });
}

/** Look a code up by its report byte (devices send bytes; the server shows codes). */
export function codeForReportByte(byte: number): ErrorCode | undefined {
  for (const [code, row] of Object.entries(ERRORS)) if (row.report === byte) return code as ErrorCode;
  return undefined;
}
