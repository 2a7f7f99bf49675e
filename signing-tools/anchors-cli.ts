/** `suit-sign anchors …` commands (filled in once manifest/cose's anchor API lands). */
import type { Command } from 'commander';
import type { CliIo, Output } from './output.js';

export interface CliHelpers {
  io: CliIo;
  abs(f: string): string;
  run<A extends unknown[]>(fn: (out: Output, ...args: A) => Promise<void>): (...args: A) => Promise<void>;
  example(cmd: Command, ...lines: string[]): Command;
  collect(v: string, prev?: string[]): string[];
}

export function registerAnchorCommands(_program: Command, _h: CliHelpers): void {}
