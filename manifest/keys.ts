/**
 * SUIT key numbers, draft-ietf-suit-manifest-37 (plus trust-domains-12, update-management-14,
 * firmware-encryption-25, report-18), as registered in their IANA Considerations sections.
 */

export const TAG_ENVELOPE = 107;
export const TAG_MANIFEST = 1070;
/** COSE tags (RFC 9052). */
export const TAG_COSE_SIGN1 = 18;
export const TAG_COSE_SIGN = 98;
export const TAG_COSE_MAC0 = 17;
export const TAG_COSE_MAC = 97;
export const TAG_CBOR_PEN = 112;

/** SUIT Envelope Elements. */
export const ENV = {
  DELEGATION: 1,
  AUTHENTICATION_WRAPPER: 2,
  MANIFEST: 3,
  COSWID: 14,
  DEPENDENCY_RESOLUTION: 15,
  PAYLOAD_FETCH: 16,
  CANDIDATE_VERIFICATION: 18,
  INSTALL: 20,
  TEXT: 23,
} as const;

/** Envelope/manifest members that may be severed (digest in manifest, bytes in envelope). */
export const SEVERABLE_MEMBERS = [14, 15, 16, 18, 20, 23] as const;

/** SUIT Manifest Elements. */
export const MAN = {
  VERSION: 1,
  SEQUENCE_NUMBER: 2,
  COMMON: 3,
  REFERENCE_URI: 4,
  MANIFEST_COMPONENT_ID: 5,
  SET_VERSION: 6,
  VALIDATE: 7,
  LOAD: 8,
  INVOKE: 9,
  COSWID: 14,
  DEPENDENCY_RESOLUTION: 15,
  PAYLOAD_FETCH: 16,
  CANDIDATE_VERIFICATION: 18,
  INSTALL: 20,
  TEXT: 23,
  UNINSTALL: 24,
} as const;

/** SUIT Common Elements. */
export const COMMON = { DEPENDENCIES: 1, COMPONENTS: 2, SHARED_SEQUENCE: 4 } as const;

/** SUIT Commands: conditions and directives share one number space. */
export const CMD = {
  VENDOR_IDENTIFIER: 1,
  CLASS_IDENTIFIER: 2,
  IMAGE_MATCH: 3,
  USE_BEFORE: 4,
  COMPONENT_SLOT: 5,
  CHECK_CONTENT: 6,
  DEPENDENCY_INTEGRITY: 7,
  IS_DEPENDENCY: 8,
  PROCESS_DEPENDENCY: 11,
  SET_COMPONENT_INDEX: 12,
  ABORT: 14,
  TRY_EACH: 15,
  WRITE: 18,
  SET_PARAMETERS: 19,
  OVERRIDE_PARAMETERS: 20,
  FETCH: 21,
  COPY: 22,
  INVOKE: 23,
  DEVICE_IDENTIFIER: 24,
  IMAGE_NOT_MATCH: 25,
  MINIMUM_BATTERY: 26,
  UPDATE_AUTHORIZED: 27,
  VERSION: 28,
  WAIT: 29,
  SWAP: 31,
  RUN_SEQUENCE: 32,
  UNLINK: 33,
  OVERRIDE_MULTIPLE: 34,
  COPY_PARAMS: 35,
} as const;

export const CONDITIONS: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 24, 25, 26, 27, 28]);

/** SUIT Parameters. */
export const PARAM = {
  VENDOR_IDENTIFIER: 1,
  CLASS_IDENTIFIER: 2,
  IMAGE_DIGEST: 3,
  USE_BEFORE: 4,
  COMPONENT_SLOT: 5,
  STRICT_ORDER: 12,
  SOFT_FAILURE: 13,
  IMAGE_SIZE: 14,
  CONTENT: 18,
  ENCRYPTION_INFO: 19,
  URI: 21,
  SOURCE_COMPONENT: 22,
  INVOKE_ARGS: 23,
  DEVICE_IDENTIFIER: 24,
  FETCH_ARGUMENTS: 25,
  MINIMUM_BATTERY: 26,
  UPDATE_PRIORITY: 27,
  VERSION: 28,
  WAIT_INFO: 29,
  COMPONENT_METADATA: 30,
} as const;

/** Text keys. */
export const TEXT = { MANIFEST_DESCRIPTION: 1, UPDATE_DESCRIPTION: 2, MANIFEST_JSON_SOURCE: 3, MANIFEST_YAML_SOURCE: 4 } as const;
export const TEXT_COMPONENT = {
  VENDOR_NAME: 1,
  MODEL_NAME: 2,
  VENDOR_DOMAIN: 3,
  MODEL_INFO: 4,
  COMPONENT_DESCRIPTION: 5,
  COMPONENT_VERSION: 6,
  VERSION_REQUIRED: 7,
  CURRENT_VERSION: 8,
} as const;

/** Reporting policy bits. */
export const REP = { RECORD_ON_SUCCESS: 1, RECORD_ON_FAILURE: 2, SYSINFO_SUCCESS: 4, SYSINFO_FAILURE: 8 } as const;

/** COSE hash algorithm ids accepted in SUIT_Digest. */
export const DIGEST_ALG = { SHA256: -16, SHAKE128: -18, SHA384: -43, SHA512: -44, SHAKE256: -45 } as const;

/** COSE signature / MAC algorithm ids. */
export const COSE_ALG = {
  ES256: -7,
  ESP256: -9,
  EDDSA: -8,
  ED25519: -19,
  HSS_LMS: -46,
  HMAC_256_256: 5,
} as const;

/** Version comparison types (update-management §"version"). */
export const VERSION_CMP = { GREATER: 1, GREATER_EQUAL: 2, EQUAL: 3, LESSER_EQUAL: 4, LESSER: 5 } as const;

/** SUIT_Report keys (draft-ietf-suit-report-18). */
export const REPORT = {
  NONCE: 2,
  RECORDS: 3,
  RESULT: 4,
  RESULT_CODE: 5,
  RESULT_RECORD: 6,
  RESULT_REASON: 7,
  CAPABILITY_REPORT: 8,
  REFERENCE: 99,
} as const;

/** SUIT_Report result reasons. */
export const REPORT_REASON = {
  OK: 0,
  CBOR_PARSE: 1,
  COSE_UNSUPPORTED: 2,
  ALG_UNSUPPORTED: 3,
  UNAUTHORISED: 4,
  COMMAND_UNSUPPORTED: 5,
  COMPONENT_UNSUPPORTED: 6,
  COMPONENT_UNAUTHORISED: 7,
  PARAMETER_UNSUPPORTED: 8,
  SEVERING_UNSUPPORTED: 9,
  CONDITION_FAILED: 10,
  OPERATION_FAILED: 11,
  INVOKE_PENDING: 12,
} as const;
