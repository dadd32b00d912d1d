/**
 * Every command of the CLI. To add one: a file here exporting `register(program, io)` that
 * adds one `program.command(...)`, and a line below.
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { register as atlas } from './atlas.js';
import { register as evaluate } from './eval.js';
import { register as explain } from './explain.js';
import { register as image } from './image.js';
import { register as info } from './info.js';
import { register as merge } from './merge.js';
import { register as run } from './run.js';
import { register as synth } from './synth.js';
import { register as view } from './view.js';

export type RegisterCommand = (program: Command, io: CliIo) => void;

export const COMMANDS: RegisterCommand[] = [
  info,
  atlas,
  explain,
  run,
  merge,
  synth,
  image,
  evaluate,
  view,
];
