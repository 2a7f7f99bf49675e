/**
 * suit-device: the device simulator's command line.
 *   faults [--profile NAME] [--erase-value ff|00] [--stride N] [--recovery-rate R] [--json]
 *   patch --from OLD --patch PATCH -o OUT [--page-size N] [--ram N]
 *   profiles
 * (The network agent's `run` command is added by the agent part.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { UpdateError, toUpdateError } from '../manifest/index.js';
import { DeltaDecoder, readDeltaHeader } from './delta-adapter.js';
import { runSweep, type SweepSummary } from './faults.js';
import type { EraseValue } from './flash.js';
import { PROFILES, getProfile, layoutOf, maxImageSize } from './profiles.js';
import { registerRunCommand } from './agent/cli-run.js';

export const program = new Command();
program.name('suit-device').description('Simulated constrained device and power-fail-safe SUIT bootloader').showHelpAfterError();

function fail(e: unknown): never {
  const err = toUpdateError(e);
  process.stderr.write(`suit-device: ${err.code}: ${err.message}\n`);
  process.exit(err.exitCode);
}

function printSummary(s: SweepSummary): void {
  const lines = [
    `profiles: ${s.profiles.join(', ')} (${s.configurations} configurations incl. erase values)`,
    `cut points: ${s.cutPoints} (of which ${s.recoveryCuts} cuts during recovery), recovered ${s.recovered}`,
    `bricked: ${s.bricked}  rollbacks: ${s.rollbacks}  unverified boots: ${s.unverifiedBoots}  counter violations: ${s.counterViolations}  anchor violations: ${s.anchorViolations}  writes to un-erased flash: ${s.notErasedWrites}`,
    `max boots to recover: ${s.maxRecoveryBoots}; max erases per slot sector: ${s.maxErasesPerSector} per swap, ${s.maxErasesPerSectorIncludingStaging} incl. staging, ${s.maxErasesPerSectorWithFaults} with faults`,
    `time: ${s.seconds} s`,
    '',
    'profile       erase  scenario      ops   cuts  rec.cuts  old/new  bricked rollbk unverif',
  ];
  for (const r of s.results) {
    if (r.skipped) {
      lines.push(`${r.profile.padEnd(13)} ${r.eraseValue.padEnd(6)} ${r.scenario.padEnd(13)} skipped: ${r.skipped}`);
      continue;
    }
    lines.push(
      `${r.profile.padEnd(13)} ${r.eraseValue.padEnd(6)} ${r.scenario.padEnd(13)} ${String(r.ops).padStart(4)} ${String(r.cutPoints).padStart(6)} ${String(r.recoveryCuts).padStart(9)}  ${`${r.bootedOld}/${r.bootedNew}`.padStart(7)} ${String(r.bricked).padStart(7)} ${String(r.rollbacks).padStart(6)} ${String(r.unverifiedBoots).padStart(7)}`,
    );
    for (const f of r.failures) lines.push(`    ! ${f}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

program
  .command('faults')
  .description('power-cut sweep: every operation index × before/after/torn, recovery checked')
  .option('--profile <name...>', 'profile(s) to sweep (default: all)')
  .option('--erase-value <v>', 'ff or 00 (default: both)')
  .option('--stride <n>', 'only every n-th operation index', '1')
  .option('--recovery-rate <r>', 'fraction of cut points whose recovery is cut again', '0.25')
  .option('--seed <n>', 'seed for torn data and recovery cuts', '1')
  .option('--json', 'print the JSON summary')
  .action(async (o: { profile?: string[]; eraseValue?: string; stride: string; recoveryRate: string; seed: string; json?: boolean }) => {
    try {
      for (const p of o.profile ?? []) getProfile(p);
      let evs: EraseValue[] | undefined;
      if (o.eraseValue !== undefined) {
        if (!['ff', '0xff', '00', '0x00'].includes(o.eraseValue.toLowerCase())) throw new UpdateError('USAGE', '--erase-value is ff or 00');
        evs = [o.eraseValue.toLowerCase().endsWith('ff') ? 0xff : 0x00];
      }
      const s = await runSweep({
        ...(o.profile ? { profiles: o.profile } : {}),
        ...(evs ? { eraseValues: evs } : {}),
        stride: Math.max(1, Number(o.stride) | 0),
        recoveryCutRate: Number(o.recoveryRate),
        seed: Number(o.seed) | 0,
      });
      if (o.json) process.stdout.write(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
      else printSummary(s);
      const ok = s.bricked === 0 && s.rollbacks === 0 && s.unverifiedBoots === 0 && s.counterViolations === 0 && s.anchorViolations === 0 && s.notErasedWrites === 0;
      process.exitCode = ok ? 0 : 1;
    } catch (e) {
      fail(e);
    }
  });

program
  .command('patch')
  .description("apply a delta patch with the device's streaming decoder; prints peak RAM")
  .requiredOption('--from <old>', 'precursor (running) image')
  .requiredOption('--patch <patch>', 'delta patch')
  .requiredOption('-o, --out <file>', 'output image')
  .option('--page-size <n>', 'decoder page size (write unit)', '4096')
  .option('--ram <n>', 'RAM budget for the decoder in bytes', '16384')
  .option('--chunk <n>', 'patch bytes per push (transport chunk)', '512')
  .action((o: { from: string; patch: string; out: string; pageSize: string; ram: string; chunk: string }) => {
    try {
      const read = (f: string): Uint8Array => {
        try {
          return new Uint8Array(readFileSync(f));
        } catch (e) {
          throw new UpdateError('FILE_NOT_FOUND', `cannot read ${f}`, { cause: e });
        }
      };
      const old = read(o.from);
      const patch = read(o.patch);
      const h = readDeltaHeader(patch);
      const out = new Uint8Array(h.newSize);
      const dec = new DeltaDecoder({
        readOld: (off, len) => old.subarray(off, off + len),
        writePage: (off, bytes) => out.set(bytes, off),
        pageSize: Number(o.pageSize),
        ramBudget: Number(o.ram),
        oldSize: old.length,
        maxNewSize: h.newSize,
      });
      const cs = Math.max(1, Number(o.chunk) | 0);
      for (let i = 0; i < patch.length; i += cs) dec.push(patch.subarray(i, i + cs));
      const r = dec.finish();
      writeFileSync(o.out, out);
      process.stdout.write(`wrote ${r.bytesWritten} B to ${o.out}; peak RAM ${r.peakRamBytes} B (budget ${o.ram} B, page ${o.pageSize} B)\n`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('profiles')
  .description('list device profiles and their layouts')
  .option('--json', 'JSON output')
  .action((o: { json?: boolean }) => {
    const rows = Object.values(PROFILES).map((p) => {
      const l = layoutOf(p);
      return {
        name: p.name,
        description: p.description,
        strategy: p.strategy,
        flashBytes: p.sectors.reduce((a, b) => a + b, 0),
        writeAlign: p.writeAlign,
        slotUnit: p.slotUnit,
        primary: { offset: l.primary.offset, size: l.primary.size, units: l.primary.units.length },
        secondary: { offset: l.secondary.offset, size: l.secondary.size, units: l.secondary.units.length },
        journal: l.journal,
        status: { offset: l.status.offset, size: l.status.size },
        maxImage: maxImageSize(p),
        ramBytes: p.ramBytes,
      };
    });
    if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else for (const r of rows) process.stdout.write(`${r.name.padEnd(13)} ${r.strategy.padEnd(12)} max image ${r.maxImage} B  ${r.description}\n`);
  });

registerRunCommand(program);
await program.parseAsync(process.argv);
