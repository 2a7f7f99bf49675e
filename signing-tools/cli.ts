/**
 * `suit-sign`: the vendor's offline signing tool (docs/signing.md).
 *
 * `main(argv, io)` runs one command in-process and returns its exit status (tests call it
 * directly); bin/suit-sign.mjs imports this file, which then runs `main` on process.argv.
 * Every failure is an UpdateError; the exit status is `ERRORS[code].exit`.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { UpdateError, getAlgorithm } from '../manifest/index.js';
import { Output, processIo, type CliIo } from './output.js';
import { generateKeyFiles, parseLmsParams, type KeygenAlg } from './key-files.js';
import { readPassphraseFile, statePathForKey } from './keys.js';
import { readInput } from './fsutil.js';
import { parseReleaseText } from './release-description.js';
import { createRelease } from './create.js';
import { writeEnvelopeFile } from './envelope-file.js';
import { signEnvelopeFile } from './sign.js';
import { attachSignatureFile, parseAlgOption, writeSigningRequest } from './two-step.js';
import { verifyEnvelopeFile, verifyWithAnchorsFile } from './verify.js';
import { diagnosticOfFile, inspectEnvelopeFile, renderTree } from './inspect.js';
import { createBundle, parsePayloadArg, checkBundleFile } from './bundle.js';
import { makeDeltaFile } from './delta.js';
import { adoptLmsState, loadLmsState } from './lms-state.js';
import { registerAnchorCommands } from './anchors-cli.js';
import type { ProgressFn } from './hash-file.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function example(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** A cli-progress bar on stderr, only when stdout is a terminal and the output is not JSON. */
async function progressFor(io: CliIo, json: boolean): Promise<{ onProgress?: ProgressFn; stop(): void }> {
  if (!io.isTTY || json) return { stop: () => undefined };
  const { SingleBar, Presets } = await import('cli-progress');
  let bar: InstanceType<typeof SingleBar> | undefined;
  let current = '';
  return {
    onProgress: ({ file, done, total }) => {
      if (total < 8 * 1024 * 1024) return; // small files finish before a bar is readable
      if (file !== current) {
        bar?.stop();
        current = file;
        bar = new SingleBar({ format: `hashing ${path.basename(file)} [{bar}] {percentage}% {value}/{total} MiB`, stream: process.stderr }, Presets.shades_classic);
        bar.start(Math.ceil(total / 1048576), 0);
      }
      bar?.update(Math.floor(done / 1048576));
      if (done >= total) {
        bar?.stop();
        bar = undefined;
      }
    },
    stop: () => bar?.stop(),
  };
}

export function buildProgram(io: CliIo, state: { exit: number }): Command {
  const abs = (f: string): string => path.resolve(io.cwd, f);
  const program = new Command('suit-sign')
    .description('Offline signing tool for IETF SUIT firmware manifests: keys, manifests, signatures, trust anchors, bundles.')
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s), outputError: () => undefined });
  example(
    program,
    'suit-sign keygen --alg ed25519 --out keys/release-a --passphrase-file pass-a.txt',
    'suit-sign create --release release.yaml -o app.unsigned.suit',
    'suit-sign sign app.unsigned.suit --key keys/release-a.pem --passphrase-file pass-a.txt -o app.suit',
    'suit-sign verify app.suit --key keys/release-a.pub.pem --json',
  );

  /** Wrap an action: JSON or human output, UpdateError → exit status. */
  const run =
    <A extends unknown[]>(fn: (out: Output, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const out = new Output(io, Boolean((cmd.opts() as { json?: boolean }).json));
      try {
        await fn(out, ...args);
        state.exit = 0;
      } catch (e) {
        state.exit = out.failure(e);
      }
    };

  // ------------------------------------------------------------------ keygen
  example(
    program
      .command('keygen')
      .description('Generate a signing key: PATH.pem (PKCS#8, mode 0600), PATH.pub.pem (SPKI), PATH.cose (COSE_Key); HSS-LMS keys also get PATH.state + PATH.state.journal.')
      .addOption(new Option('--alg <alg>', 'key algorithm').choices(['ed25519', 'p256', 'hss-lms']).makeOptionMandatory())
      .requiredOption('--out <path>', 'output path without extension (PATH.pem, PATH.pub.pem, PATH.cose)')
      .option('--lms-params <params>', 'HSS-LMS tree heights and Winternitz parameter, e.g. H5W8 (32 signatures) or H10/H10W4', 'H10/H10W8')
      .option('--passphrase-file <file>', 'encrypt the private key with the passphrase in this file')
      .option('--force', 'overwrite existing key files')
      .option('--json', 'print JSON')
      .action(
        run(async (out, opts: { alg: KeygenAlg; out: string; lmsParams: string; passphraseFile?: string; force?: boolean }) => {
          const passphrase = opts.passphraseFile ? await readPassphraseFile(abs(opts.passphraseFile)) : undefined;
          const r = await generateKeyFiles(abs(opts.out), {
            alg: opts.alg,
            ...(opts.alg === 'hss-lms' ? { lmsParams: parseLmsParams(opts.lmsParams) } : {}),
            ...(passphrase !== undefined ? { passphrase } : {}),
            force: opts.force ?? false,
          });
          const lines = [
            `key id:  ${r.kid}`,
            `alg:     ${getAlgorithm(r.alg).name} (${r.alg})`,
            `private: ${r.files.privateKey} (mode 0600${r.encrypted ? ', encrypted' : ', NOT encrypted: keep it on an offline machine'})`,
            `public:  ${r.files.publicKey}, ${r.files.coseKey}`,
          ];
          if (r.files.state) {
            lines.push(`state:   ${r.files.state} (+ .journal) — never copy or restore it`);
            lines.push(`signatures remaining: ${r.signaturesRemaining}`);
          }
          out.result({ ...r }, lines.join('\n'));
        }),
      ),
    'suit-sign keygen --alg ed25519 --out keys/release-a',
    'suit-sign keygen --alg hss-lms --lms-params H5W8 --out keys/rom-pq --passphrase-file pass.txt',
  );

  // ------------------------------------------------------------------ create
  example(
    program
      .command('create')
      .description('Build an unsigned SUIT envelope from a release description (JSON or YAML; docs/release-description.md).')
      .requiredOption('--release <file>', 'release description (JSON or YAML)')
      .requiredOption('-o, --output <file>', 'output envelope (.suit)')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, opts: { release: string; output: string; force?: boolean }) => {
          const file = abs(opts.release);
          const text = Buffer.from(await readInput(file, 'release description', 4 * 1024 * 1024)).toString('utf8');
          const desc = parseReleaseText(text, opts.release);
          const progress = await progressFor(io, out.json);
          let r;
          try {
            r = await createRelease(desc, { baseDir: path.dirname(file), ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) }, opts.release);
          } finally {
            progress.stop();
          }
          await writeEnvelopeFile(abs(opts.output), r.envelope, opts.force ?? false);
          const { envelope: _e, manifest: _m, digest, ...rest } = r;
          out.result(
            { output: opts.output, size: r.envelope.length, manifestDigest: Buffer.from(digest.bytes).toString('hex'), ...rest },
            [
              `wrote ${opts.output} (${r.envelope.length} bytes, unsigned)`,
              `manifest digest: ${Buffer.from(digest.bytes).toString('hex')}`,
              `vendor ${r.vendorId}  class ${r.classId}  sequence ${r.sequenceNumber}`,
              ...r.components.map((c) => `component ${c.index} [${c.id.join(', ')}]: ${c.size} bytes, ${c.digest}${c.uri ? `, ${c.uri}` : ''}`),
              `next: suit-sign sign ${opts.output} --key KEY.pem -o signed.suit`,
            ].join('\n'),
          );
        }),
      ),
    'suit-sign create --release release.yaml -o app-v2.unsigned.suit',
  );

  // ------------------------------------------------------------------ sign
  example(
    program
      .command('sign')
      .description("Check the envelope's manifest digest, then add one COSE_Sign1 block per key (existing blocks are kept).")
      .argument('<in>', 'envelope to sign')
      .option('--key <file>', 'private key PEM (repeat for several keys)', collect, [])
      .requiredOption('-o, --output <file>', 'signed envelope')
      .option('--passphrase-file <file>', 'passphrase of encrypted keys')
      .option('--legacy-alg-ids', 'use ES256 (-7) / EdDSA (-8) instead of ESP256 (-9) / Ed25519 (-19), for verifiers that predate RFC 9864')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, input: string, opts: { key: string[]; output: string; passphraseFile?: string; legacyAlgIds?: boolean; force?: boolean }) => {
          if (opts.key.length === 0) throw new UpdateError('USAGE', 'sign needs at least one --key');
          const passphrase = opts.passphraseFile ? await readPassphraseFile(abs(opts.passphraseFile)) : undefined;
          const r = await signEnvelopeFile(abs(input), opts.key.map(abs), abs(opts.output), { ...(passphrase !== undefined ? { passphrase } : {}), legacyAlgIds: opts.legacyAlgIds ?? false, force: opts.force ?? false });
          const { envelope: _e, ...rest } = r;
          out.result(
            { output: opts.output, ...rest, added: r.added.map(({ file: _f, ...a }) => a) },
            [
              ...r.added.map((a) => `signed by ${a.kid} (${getAlgorithm(a.alg).name})${a.signaturesRemaining !== undefined ? `, ${a.signaturesRemaining} signatures remaining on this HSS-LMS key` : ''}`),
              ...r.skipped.map((s) => `skipped ${s.kid}: ${s.reason}`),
              `wrote ${opts.output} (${r.blocks} signature block${r.blocks === 1 ? '' : 's'})`,
            ].join('\n'),
          );
        }),
      ),
    'suit-sign sign app-v2.unsigned.suit --key keys/release-a.pem --key keys/release-b.pem -o app-v2.suit',
  );

  // ------------------------------------------------------------------ digest / attach
  example(
    program
      .command('digest')
      .description('Air-gapped signing, step 1: write a request with the exact bytes to sign and a human summary of what they mean.')
      .argument('<in>', 'envelope to be signed')
      .requiredOption('-o, --output <file>', 'signing request file (text)')
      .option('--pub <file>', 'public key of the signer (chooses the algorithm)')
      .option('--alg <alg>', 'algorithm: ed25519, p256 (ESP256), es256, hss-lms or a COSE number (default: from --pub, else p256)')
      .option('--raw <file>', 'also write the bytes to sign as a binary file (for an HSM or openssl)')
      .option('--force', 'overwrite outputs')
      .option('--json', 'print JSON')
      .action(
        run(async (out, input: string, opts: { output: string; pub?: string; alg?: string; raw?: string; force?: boolean }) => {
          const req = await writeSigningRequest(abs(input), abs(opts.output), {
            ...(opts.alg ? { alg: parseAlgOption(opts.alg) } : {}),
            ...(opts.pub ? { pub: abs(opts.pub) } : {}),
            ...(opts.raw ? { raw: abs(opts.raw) } : {}),
            force: opts.force ?? false,
          });
          out.result(
            { output: opts.output, alg: req.alg, manifestDigest: req.manifestDigest, toBeSigned: Buffer.from(req.toBeSigned).toString('hex'), summary: req.summary },
            [`wrote ${opts.output}; what it asks to sign:`, ...req.summary.map((l) => `  ${l}`), `next: sign the request's bytes offline, then suit-sign attach ${input} --signature SIG --pub PUB.pem --request ${opts.output} -o signed.suit`].join('\n'),
          );
        }),
      ),
    'suit-sign digest app-v2.unsigned.suit --pub keys/hsm.pub.pem -o app-v2.req --raw app-v2.tbs',
  );

  example(
    program
      .command('attach')
      .description('Air-gapped signing, step 2: verify a signature made elsewhere over the request bytes, then attach it.')
      .argument('<in>', 'envelope the request was made from')
      .requiredOption('--signature <file>', 'signature (binary, hex or base64; P-256 raw r||s or DER)')
      .requiredOption('--pub <file>', 'public key of the signer (PEM or COSE_Key)')
      .requiredOption('-o, --output <file>', 'signed envelope')
      .option('--request <file>', 'the request file (checks it is for this envelope and takes its algorithm)')
      .option('--alg <alg>', 'algorithm the signature was made with (default: from --request or the key)')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, input: string, opts: { signature: string; pub: string; output: string; request?: string; alg?: string; force?: boolean }) => {
          const r = await attachSignatureFile(abs(input), abs(opts.signature), abs(opts.pub), abs(opts.output), {
            ...(opts.alg ? { alg: parseAlgOption(opts.alg) } : {}),
            ...(opts.request ? { request: abs(opts.request) } : {}),
            force: opts.force ?? false,
          });
          out.result({ output: opts.output, kid: r.kid, alg: r.alg, blocks: r.blocks }, `signature by ${r.kid} verified and attached; wrote ${opts.output} (${r.blocks} signature blocks)`);
        }),
      ),
    'suit-sign attach app-v2.unsigned.suit --signature app-v2.sig --pub keys/hsm.pub.pem --request app-v2.req -o app-v2.suit',
  );

  // ------------------------------------------------------------------ verify
  example(
    program
      .command('verify')
      .description('Verify the manifest digest, the signatures (at least K distinct given keys) and severed members.')
      .argument('<in>', 'envelope (binary or hex)')
      .option('--key <file>', 'trusted public key (PEM, COSE_Key); repeat', collect, [])
      .option('--threshold <k>', 'distinct keys that must have signed', '1')
      .option('--mac-key <file>', 'HMAC-256 secret for COSE_Mac0 envelopes (raw bytes; a .hex file as hex); repeat', collect, [])
      .option('--revoked <kid>', 'key id that no longer counts; repeat', collect, [])
      .option('--anchors <stmt>', 'verify with a trust-anchor set instead: its firmware keys, threshold and revocations')
      .option('--json', 'print {"ok":true,"signers":[…]} or {"ok":false,"code","message"}')
      .action(
        run(async (out, input: string, opts: { key: string[]; macKey: string[]; threshold: string; revoked: string[]; anchors?: string }) => {
          if (opts.anchors) {
            const r = await verifyWithAnchorsFile(abs(input), abs(opts.anchors));
            out.result({ signers: r.signers, threshold: r.threshold, anchorsVersion: r.version }, [`OK: ${input} verified with anchor set v${r.version} (threshold ${r.threshold})`, ...r.signers.map((s) => `  signer ${s}`)].join('\n'));
            return;
          }
          if (!/^\d+$/.test(opts.threshold)) throw new UpdateError('USAGE', `--threshold "${opts.threshold}" is not a positive integer`);
          const r = await verifyEnvelopeFile(abs(input), opts.key.map(abs), { threshold: Number(opts.threshold), macKeyFiles: opts.macKey.map(abs), ...(opts.revoked.length ? { revokedKids: opts.revoked } : {}) });
          out.result({ signers: r.signers, threshold: r.threshold, blocks: r.blocks }, [`OK: ${input} verified, ${r.signers.length} of the given keys signed (threshold ${r.threshold})`, ...r.signers.map((s) => `  signer ${s}`)].join('\n'));
        }),
      ),
    'suit-sign verify app-v2.suit --key keys/release-a.pub.pem --key keys/release-b.pub.pem --threshold 2',
  );

  // ------------------------------------------------------------------ inspect
  example(
    program
      .command('inspect')
      .description('Show an envelope: sequence number, vendor/class, components, command sequences, text, signatures. Nothing is verified.')
      .argument('<in>', 'envelope (binary or hex)')
      .option('--json', 'the JSON summary (same as the server shows)')
      .option('--diag', 'CBOR diagnostic notation, with bstr-wrapped CBOR expanded as << … >>')
      .action(
        run(async (out, input: string, opts: { json?: boolean; diag?: boolean }) => {
          if (opts.json && opts.diag) throw new UpdateError('USAGE', 'give --json or --diag, not both');
          if (opts.diag) {
            io.stdout((await diagnosticOfFile(abs(input))) + '\n');
            return;
          }
          const s = await inspectEnvelopeFile(abs(input));
          if (out.json) io.stdout(JSON.stringify(s) + '\n');
          else io.stdout(`${input} (not verified; use suit-sign verify)\n${renderTree(s, '  ')}\n`);
        }),
      ),
    'suit-sign inspect app-v2.suit',
    'suit-sign inspect app-v2.suit --json | jq .sequenceNumber',
  );

  // ------------------------------------------------------------------ bundle
  example(
    program
      .command('bundle')
      .description('Write one offline file with the envelope (byte-identical) and its payloads, for USB / air-gapped installs.')
      .argument('<in>', 'signed envelope')
      .option('--payload <file>', 'payload file (matched to the manifest by digest), or URI=FILE for a delta patch; repeat', collect, [])
      .requiredOption('-o, --output <file>', 'bundle file')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, input: string, opts: { payload: string[]; output: string; force?: boolean }) => {
          const specs = opts.payload.map((p) => parsePayloadArg(p, (f) => existsSync(abs(f)))).map((s) => ({ ...s, file: abs(s.file) }));
          const progress = await progressFor(io, out.json);
          let r;
          try {
            r = await createBundle(abs(input), specs, abs(opts.output), { force: opts.force ?? false, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) });
          } finally {
            progress.stop();
          }
          out.result(
            { output: opts.output, size: r.size, payloads: r.entries.map((e) => ({ uri: e.uri, size: e.size, digest: Buffer.from(e.digest.bytes).toString('hex') })) },
            [`wrote ${opts.output} (${r.size} bytes)`, ...r.entries.map((e) => `  payload ${e.uri ?? '(no uri)'}: ${e.size} bytes`)].join('\n'),
          );
        }),
      ),
    'suit-sign bundle app-v2.suit --payload app-v2.bin -o app-v2.bundle',
  );

  example(
    program
      .command('bundle-check')
      .description('Read a bundle: check each payload against its digest (streaming) and against what the manifest fetches; with --key also verify the envelope.')
      .argument('<bundle>', 'bundle file')
      .option('--key <file>', 'trusted public key: also verify the envelope; repeat', collect, [])
      .option('--threshold <k>', 'distinct keys that must have signed', '1')
      .option('--json', 'print JSON')
      .action(
        run(async (out, file: string, opts: { key: string[]; threshold: string }) => {
          const r = await checkBundleFile(abs(file), { keyFiles: opts.key.map(abs), threshold: Number(opts.threshold) });
          out.result(
            { envelopeSize: r.envelopeSize, ...(r.signers ? { signers: r.signers } : {}), payloads: r.payloads },
            [
              `${file}: envelope ${r.envelopeSize} bytes${r.signers ? `, verified (signers ${r.signers.join(', ')})` : ' (not verified: pass --key)'}`,
              ...r.payloads.map((e) => `  payload ${e.uri ?? '(no uri)'}: ${e.size} bytes at ${e.offset}, digest OK${e.delta ? ' (delta patch)' : ''}`),
            ].join('\n'),
          );
        }),
      ),
    'suit-sign bundle-check app-v2.bundle --key keys/release-a.pub.pem',
  );

  // ------------------------------------------------------------------ delta
  example(
    program
      .command('delta')
      .description('Make a delta patch from a precursor image to a target image (docs/delta-format.md).')
      .requiredOption('--from <old>', 'precursor image (what devices have installed)')
      .requiredOption('--to <new>', 'target image (what the manifest signs)')
      .requiredOption('-o, --output <patch>', 'patch file')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, opts: { from: string; to: string; output: string; force?: boolean }) => {
          const r = await makeDeltaFile(abs(opts.from), abs(opts.to), abs(opts.output), { force: opts.force ?? false });
          out.result(
            { ...r, patch: opts.output },
            [
              `wrote ${opts.output}: ${r.patchSize} bytes (${(r.ratio * 100).toFixed(1)}% of the ${r.to.size}-byte target)`,
              `precursor sha-256 ${r.from.sha256}`,
              `target    sha-256 ${r.to.sha256}`,
              'list the precursor under components[].delta.precursors in the release description',
            ].join('\n'),
          );
        }),
      ),
    'suit-sign delta --from app-v1.bin --to app-v2.bin -o app-v1-to-v2.patch',
  );

  // ------------------------------------------------------------------ lms-state
  const lms = program.command('lms-state').description('Show or re-adopt the state of an HSS-LMS key.');
  example(
    lms
      .command('show')
      .description('How many one-time signatures an HSS-LMS key has left (checks the state and journal).')
      .argument('<key>', 'the key PEM (its PATH.state is used)')
      .option('--json', 'print JSON')
      .action(
        run(async (out, key: string) => {
          const s = await loadLmsState(statePathForKey(abs(key)));
          out.result({ kid: s.kid, used: s.next, total: s.total, remaining: s.remaining }, `HSS-LMS key ${s.kid}: ${s.remaining} of ${s.total} signatures remaining`);
        }),
      ),
    'suit-sign lms-state show keys/rom-pq.pem',
  );
  example(
    lms
      .command('adopt')
      .description('After moving a key on purpose (and destroying every other copy), bind its state journal to the moved file.')
      .argument('<key>', 'the key PEM (its PATH.state is used)')
      .option('--json', 'print JSON')
      .action(
        run(async (out, key: string) => {
          const s = await adoptLmsState(statePathForKey(abs(key)));
          out.result({ kid: s.kid, used: s.next, total: s.total }, `adopted ${statePathForKey(key)}: ${s.total - s.next} signatures remaining`);
        }),
      ),
    'suit-sign lms-state adopt /media/offline/keys/rom-pq.pem',
  );

  registerAnchorCommands(program, { io, abs, run, example, collect });
  return program;
}

/** Run one command; returns the exit status (never calls process.exit). */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const state = { exit: 0 };
  const program = buildProgram(io, state);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return ERRORS_USAGE;
    }
    await program.parseAsync(argv, { from: 'user' });
    return state.exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      const out = new Output(io, argv.includes('--json'));
      const msg = e.message.replace(/^error:\s*/i, '');
      return out.failure(new UpdateError('USAGE', msg));
    }
    return new Output(io, argv.includes('--json')).failure(e);
  }
}

const ERRORS_USAGE = 64;

// Run when launched (bin/suit-sign.mjs imports this file; `tsx signing-tools/cli.ts` runs it directly).
const launchedBy = process.argv[1] ?? '';
if (/suit-sign(\.mjs)?$/.test(launchedBy) || (launchedBy && import.meta.url === pathToFileURL(launchedBy).href)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`suit-sign: internal error: ${String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
