/**
 * How a command fails (§6.4, §8.4.8.14): a condition failure ends the current sequence and soft-failure
 * decides whether it spreads; any other failure aborts processing. And how a failure is reported
 * (report-18 result-reason).
 */
import { UpdateError, type ErrorCode } from '../errors.js';
import { CMD, REPORT_REASON } from '../keys.js';
import type { Command } from '../model.js';
import type { SuitRecord } from './report.js';

/** A condition failure: terminates the current sequence; soft-failure decides whether it spreads. */
export class ConditionFailure extends Error {
  constructor(readonly error: UpdateError) {
    super(error.message);
  }
}
/** Any other failure: aborts processing regardless of soft-failure. Carries the record where it happened. */
export class Abort extends Error {
  constructor(
    readonly error: UpdateError,
    readonly record: SuitRecord,
  ) {
    super(error.message);
  }
}

/** Fail the running condition (absorbable by soft-failure). */
export function failCondition(code: ErrorCode, message: string): never {
  throw new ConditionFailure(new UpdateError(code, message));
}

/** The code a foreign (non-UpdateError) failure of a command is reported with. */
export function wrapCode(cmd: Command): ErrorCode {
  if (cmd.code === CMD.FETCH) return 'FETCH_FAILED';
  if (cmd.code === CMD.INVOKE) return 'INVOKE_FAILED';
  if (cmd.code === CMD.PROCESS_DEPENDENCY) return 'DEPENDENCY_FAILED';
  return 'INTERNAL';
}

/** Map an error-table code to a SUIT_Report result-reason. */
export function reasonFor(code: ErrorCode, isCondition: boolean): number {
  switch (code) {
    case 'COMMAND_UNSUPPORTED':
      return REPORT_REASON.COMMAND_UNSUPPORTED;
    case 'COMPONENT_UNKNOWN':
      return REPORT_REASON.COMPONENT_UNSUPPORTED;
    case 'SEVERED_MEMBER_MISSING':
      return REPORT_REASON.SEVERING_UNSUPPORTED;
    case 'DIGEST_ALGORITHM_UNSUPPORTED':
    case 'ALGORITHM_UNSUPPORTED':
      return REPORT_REASON.ALG_UNSUPPORTED;
    case 'ROLLBACK_REJECTED':
    case 'SIGNATURE_INVALID':
    case 'KEY_UNTRUSTED':
    case 'KEY_REVOKED':
    case 'AUTH_MISSING':
    case 'SIGNATURE_THRESHOLD_NOT_MET':
      return REPORT_REASON.UNAUTHORISED;
    case 'CBOR_MALFORMED':
    case 'MANIFEST_MALFORMED':
    case 'ENVELOPE_MALFORMED':
    case 'MANIFEST_VERSION_UNSUPPORTED':
      return REPORT_REASON.CBOR_PARSE;
    case 'COSE_MALFORMED':
      return REPORT_REASON.COSE_UNSUPPORTED;
    case 'VENDOR_MISMATCH':
    case 'CLASS_MISMATCH':
    case 'DEVICE_MISMATCH':
    case 'IMAGE_MISMATCH':
    case 'CONDITION_FAILED':
      return REPORT_REASON.CONDITION_FAILED;
    default:
      return isCondition ? REPORT_REASON.CONDITION_FAILED : REPORT_REASON.OPERATION_FAILED;
  }
}
