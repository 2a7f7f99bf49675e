/** `suit-sign anchors …`: build, sign, verify, verify-chain and inspect trust-anchor statements. */
import type { Command } from 'commander';
import { UpdateError } from '../manifest/index.js';
import type { CliIo, Output } from './output.js';
import { buildAnchorPayload, readStatement, signAnchorFile, verifyAnchorChainFiles, verifyAnchorFile, viewOfSet, type AnchorSetView } from './anchors.js';
import { writeFileAtomic } from './fsutil.js';
import { readPassphraseFile } from './keys.js';

export interface CliHelpers {
  io: CliIo;
  abs(f: string): string;
  run<A extends unknown[]>(fn: (out: Output, ...args: A) => Promise<void>): (...args: A) => Promise<void>;
  example(cmd: Command, ...lines: string[]): Command;
  collect(v: string, prev?: string[]): string[];
}

function describeSet(s: AnchorSetView): string[] {
  const lines = [
    `version ${s.version}${s.owner ? `, owner ${s.owner.name}${s.owner.previous ? ` (handed over from ${s.owner.previous})` : ''}` : ''}`,
    `firmware threshold ${s.threshold}, anchor threshold ${s.anchorThreshold}${s.minSequence !== undefined ? `, minimum sequence ${s.minSequence}` : ''}`,
    ...s.keys.map((k) => `  key ${k.kid} alg ${k.alg} roles ${k.roles.join(',')}`),
  ];
  if (s.revoked.length) lines.push(...s.revoked.map((r) => `  revoked ${r}`));
  if (s.previous) lines.push(`follows statement ${s.previous}`);
  return lines;
}

const int = (name: string) => (v: string): number => {
  if (!/^\d+$/.test(v)) throw new UpdateError('USAGE', `${name} "${v}" is not a non-negative integer`);
  return Number(v);
};

export function registerAnchorCommands(program: Command, h: CliHelpers): void {
  const { abs, run, example, collect, io } = h;
  const anchors = program
    .command('anchors')
    .description('Trust-anchor statements: the keys devices trust, versioned; N+1 is signed by the anchor thresholds of N and of N+1 (docs/signing.md).');

  example(
    anchors
      .command('build')
      .description('Write the unsigned payload of a statement (first set, rotation, revocation or handover).')
      .requiredOption('-o, --output <file>', 'unsigned statement payload')
      .option('--from <stmt>', 'the signed statement this one follows (inherits keys, thresholds, revocations, owner)')
      .option('--key <pub>', 'key that may sign firmware; repeat', collect, [])
      .option('--anchor-key <pub>', 'key that may sign the next statement; repeat (a key may have both roles)', collect, [])
      .option('--drop-keys', 'do not inherit the previous keys (vendor → owner handover)')
      .option('--remove <pub|kid>', 'remove a key (not revoked); repeat', collect, [])
      .option('--revoke <pub|kid>', 'revoke a key: removed and never trusted again; repeat', collect, [])
      .option('--threshold <k>', 'firmware manifests need K distinct firmware keys', int('--threshold'))
      .option('--anchor-threshold <k>', 'the next statement needs K distinct anchor keys of this set', int('--anchor-threshold'))
      .option('--owner <name>', 'owner of the set (a new name records the previous owner)')
      .option('--min-sequence <n>', 'refuse manifests with a lower sequence number from this version on', int('--min-sequence'))
      .option('--set-version <n>', 'version (default: previous + 1, or 1)', int('--set-version'))
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, o: { output: string; from?: string; key: string[]; anchorKey: string[]; dropKeys?: boolean; remove: string[]; revoke: string[]; threshold?: number; anchorThreshold?: number; owner?: string; minSequence?: number; setVersion?: number; force?: boolean }) => {
          const r = await buildAnchorPayload({
            ...(o.from ? { from: abs(o.from) } : {}),
            firmwareKeys: o.key.map(abs),
            anchorKeys: o.anchorKey.map(abs),
            dropKeys: o.dropKeys ?? false,
            remove: o.remove.map((x) => (/^[0-9a-f]{64}$/i.test(x) ? x : abs(x))),
            revoke: o.revoke.map((x) => (/^[0-9a-f]{64}$/i.test(x) ? x : abs(x))),
            ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
            ...(o.anchorThreshold !== undefined ? { anchorThreshold: o.anchorThreshold } : {}),
            ...(o.owner !== undefined ? { owner: o.owner } : {}),
            ...(o.minSequence !== undefined ? { minSequence: o.minSequence } : {}),
            ...(o.setVersion !== undefined ? { version: o.setVersion } : {}),
          });
          await writeFileAtomic(abs(o.output), r.payload, { force: o.force ?? false, what: 'statement payload' });
          out.result({ output: o.output, set: r.set }, [`wrote ${o.output} (unsigned)`, ...describeSet(r.set), `next: suit-sign anchors sign ${o.output} --key ANCHOR.pem -o signed.anchors`].join('\n'));
        }),
      ),
    'suit-sign anchors build --anchor-key root1.pub.pem --anchor-key root2.pub.pem --key release.pub.pem --anchor-threshold 2 --owner "ACME" -o anchors-v1.cbor',
    'suit-sign anchors build --from anchors-v1.anchors --revoke release.pub.pem --key release2.pub.pem -o anchors-v2.cbor',
    'suit-sign anchors build --from anchors-v2.anchors --drop-keys --anchor-key owner-root.pub.pem --key owner-fw.pub.pem --threshold 1 --anchor-threshold 1 --owner "Hospital IT" -o anchors-v3.cbor',
  );

  example(
    anchors
      .command('sign')
      .description('Add signatures to a statement (unsigned payload or signed statement); existing signatures are kept.')
      .argument('<in>', 'statement payload or signed statement')
      .option('--key <file>', 'private key PEM; repeat', collect, [])
      .requiredOption('-o, --output <file>', 'signed statement')
      .option('--passphrase-file <file>', 'passphrase of encrypted keys')
      .option('--force', 'overwrite the output')
      .option('--json', 'print JSON')
      .action(
        run(async (out, input: string, o: { key: string[]; output: string; passphraseFile?: string; force?: boolean }) => {
          if (o.key.length === 0) throw new UpdateError('USAGE', 'anchors sign needs at least one --key');
          const passphrase = o.passphraseFile ? await readPassphraseFile(abs(o.passphraseFile)) : undefined;
          const r = await signAnchorFile(abs(input), o.key.map(abs), abs(o.output), { ...(passphrase !== undefined ? { passphrase } : {}), force: o.force ?? false });
          out.result({ output: o.output, added: r.added, signatures: r.signers.length }, [...r.added.map((k) => `signed by ${k}`), `wrote ${o.output} (${r.signers.length} signatures)`, `check: suit-sign anchors verify ${o.output} --current PREVIOUS.anchors`].join('\n'));
        }),
      ),
    'suit-sign anchors sign anchors-v2.cbor --key root1.pem -o anchors-v2.anchors',
  );

  example(
    anchors
      .command('verify')
      .description('Verify a statement: against the current set (--current), or as an initial set signed by its own anchor threshold.')
      .argument('<stmt>', 'signed statement')
      .option('--current <stmt>', 'the signed statement devices trust now')
      .option('--json', 'print JSON')
      .action(
        run(async (out, stmt: string, o: { current?: string }) => {
          const s = await verifyAnchorFile(abs(stmt), o.current ? abs(o.current) : undefined);
          out.result({ set: s }, [`OK: ${stmt} ${o.current ? `follows ${o.current}` : 'is a valid initial set'}`, ...describeSet(s)].join('\n'));
        }),
      ),
    'suit-sign anchors verify anchors-v2.anchors --current anchors-v1.anchors',
  );

  example(
    anchors
      .command('verify-chain')
      .description('Verify a whole chain: START (an initial set) then each statement in order.')
      .argument('<start>', 'initial signed statement (version 1, or what devices were provisioned with)')
      .argument('[stmts...]', 'following statements, in order')
      .option('--json', 'print JSON')
      .action(
        run(async (out, start: string, stmts: string[]) => {
          const r = await verifyAnchorChainFiles(abs(start), stmts.map(abs));
          out.result({ versions: r.versions, set: r.final }, [`OK: chain v${r.versions.join(' → v')}`, ...describeSet(r.final)].join('\n'));
        }),
      ),
    'suit-sign anchors verify-chain anchors-v1.anchors anchors-v2.anchors anchors-v3.anchors',
  );

  example(
    anchors
      .command('inspect')
      .description('Show a statement (signed or not) without verifying it.')
      .argument('<stmt>', 'statement')
      .option('--json', 'print JSON')
      .action(
        run(async (out, stmt: string) => {
          const st = await readStatement(abs(stmt));
          const v = viewOfSet(st.set);
          out.result({ signed: st.signed, set: v }, [`${stmt} (${st.signed ? 'signed' : 'unsigned'}, not verified)`, ...describeSet(v)].join('\n'));
        }),
      ),
    'suit-sign anchors inspect anchors-v2.anchors',
  );
  void io;
}
