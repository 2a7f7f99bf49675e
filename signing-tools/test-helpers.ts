/** Shared helpers for the signing-tools tests: run the CLI in-process in a temp dir. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { main } from './cli.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
  json<T = Record<string, unknown>>(): T;
}

export async function cli(cwd: string, ...argv: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), isTTY: false, cwd });
  return { code, out, err, json: <T>() => JSON.parse(out) as T };
}

export async function tempDir(prefix = 'suit-sign-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** P-256 key of draft-ietf-suit-manifest-37 Appendix B (test/fixtures/suit/keys.md). */
export const DRAFT_P256_PRIVATE = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgApZYjZCUGLM50VBC
CjYStX+09jGmnyJPrpDLTz/hiXOhRANCAASEloEarguqq9JhVxie7NomvqqL8Rtv
P+bitWWchdvArTsfKktsCYExwKNtrNHXi9OB3N+wnAUtszmR23M4tKiW
-----END PRIVATE KEY-----
`;
export const DRAFT_P256_PUBLIC = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb
bz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==
-----END PUBLIC KEY-----
`;
