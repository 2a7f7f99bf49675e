/**
 * Everything the CLI prints goes through here: one place decides JSON vs human text, one place maps
 * an error to its exit status (`ERRORS[code].exit`), and one place makes sure a failure message says
 * what failed, which file, and what to do next.
 */
import { ERRORS, UpdateError, toUpdateError, type ErrorCode } from '../manifest/index.js';

/** Where the CLI writes; tests pass their own to run `main()` in-process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Progress bars are drawn only when this is true (stdout is a terminal). */
  isTTY: boolean;
  /** Base for relative paths. */
  cwd: string;
}

export function processIo(): CliIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: Boolean(process.stdout.isTTY),
    cwd: process.cwd(),
  };
}

/** What to do next, per code (the message already says what failed and where). */
const HINTS: Partial<Record<ErrorCode, string>> = {
  USAGE: 'Run `suit-sign <command> --help` for the options and an example.',
  FILE_NOT_FOUND: 'Check the path (relative paths are resolved from the current directory).',
  FILE_EXISTS: 'Choose another output path, or pass --force to overwrite it.',
  RELEASE_DESCRIPTION_INVALID: 'Fix the named field; docs/release-description.md describes every field.',
  KEY_PASSPHRASE_REQUIRED: 'Pass --passphrase-file with the file holding the passphrase of this key.',
  SIGNER_STATE_EXHAUSTED: 'This HSS-LMS key has no one-time signatures left: generate a new key and rotate it in with `suit-sign anchors`.',
  SIGNER_STATE_INVALID:
    'Never restore or copy an HSS-LMS state file: signing twice with one state reuses a one-time key. Use the newest state file and its .journal on the one signing machine.',
  MANIFEST_DIGEST_MISMATCH: 'The envelope was modified after it was built; rebuild it with `suit-sign create`.',
  SIGNATURE_INVALID: 'The envelope or signature was modified, or the wrong public key was given.',
  SIGNATURE_THRESHOLD_NOT_MET: 'Collect signatures from more of the given keys (`suit-sign sign` or `digest`/`attach`).',
  KEY_UNTRUSTED: 'The signature was made with a key that is not among the given --key/--pub files.',
  AUTH_MISSING: 'Sign the envelope first: `suit-sign sign IN.suit --key KEY.pem -o OUT.suit`.',
  ANCHOR_CHAIN_BROKEN: 'Each statement must be signed by the threshold of the previous set and of its own set.',
};

export function hintFor(code: ErrorCode): string | undefined {
  return HINTS[code];
}

export function exitCodeFor(e: unknown): number {
  return ERRORS[toUpdateError(e).code].exit;
}

/** A JSON-safe copy: bigint → string, bytes → hex, Map → object. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), jsonSafe(x)]));
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, jsonSafe(x)]));
  }
  return v;
}

export class Output {
  constructor(
    readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** The command's result: `data` (plus `ok: true`) as one JSON line, or the human text. */
  result(data: Record<string, unknown>, human: string): void {
    if (this.json) this.io.stdout(JSON.stringify(jsonSafe({ ok: true, ...data })) + '\n');
    else this.io.stdout(human.endsWith('\n') ? human : human + '\n');
  }

  /** Side remarks for people (never in --json mode's stdout). */
  note(text: string): void {
    this.io.stderr(text.endsWith('\n') ? text : text + '\n');
  }

  /** Print a failure and return its exit status. */
  failure(e: unknown): number {
    const err = toUpdateError(e);
    if (err.code === 'INTERNAL' && !(e instanceof UpdateError)) {
      // An unexpected exception: keep its text out of JSON (it could carry anything), say it is a bug.
      const body = { ok: false, code: err.code, message: 'internal error (a bug in suit-sign); run again with SUIT_SIGN_DEBUG=1 for details' };
      if (this.json) this.io.stdout(JSON.stringify(body) + '\n');
      else this.io.stderr(`suit-sign: error ${err.code}: ${body.message}\n`);
      if (process.env.SUIT_SIGN_DEBUG) this.io.stderr(String((e as Error)?.stack ?? e) + '\n');
      return ERRORS.INTERNAL.exit;
    }
    if (this.json) {
      this.io.stdout(JSON.stringify({ ok: false, code: err.code, message: err.message }) + '\n');
    } else {
      const hint = hintFor(err.code);
      this.io.stderr(`suit-sign: error ${err.code}: ${err.message}\n${hint ? `  what to do: ${hint}\n` : ''}`);
    }
    return ERRORS[err.code].exit;
  }
}
