/**
 * The `glas3d` command line: a thin shell over the library. Commands live in ./commands (one
 * file each); this file wires them into one commander program and turns errors into exit
 * codes: 0 success, 1 a user-fixable error (bad file, bad option: one line on stderr, no
 * stack), 2 an unexpected error (a bug: stack trace with GLAS3D_DEBUG=1).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import * as ort from 'onnxruntime-node';
import { Glas3dError } from '../errors.js';
import { COMMANDS, type RegisterCommand } from './commands/index.js';
import { processIo, type CliIo } from './io.js';

/** The package version, from package.json two folders up (same from src/cli and dist/cli). */
function packageVersion(): string {
  try {
    const manifest = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(io: CliIo, commands: RegisterCommand[] = COMMANDS): Command {
  const program = new Command('glas3d')
    .description('GLAS explanations for 3D CNNs on brain MRI (and 2D image classifiers)')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(glas3d --help lists the commands)');
  for (const register of commands) register(program, io);
  // A usage error in a command points at that command's options.
  for (const command of program.commands)
    command.showHelpAfterError(`(glas3d ${command.name()} --help lists its options)`);
  return program;
}

/**
 * Run the CLI on `argv` (as process.argv: node, script, then arguments) and return the exit
 * code. Never calls process.exit and never throws.
 */
export async function main(
  argv: string[],
  io: CliIo = processIo(),
  commands: RegisterCommand[] = COMMANDS,
): Promise<number> {
  // onnxruntime logs a device it cannot start ("[E:onnxruntime:…] Failed to load library …")
  // to stderr before glas3d's own message with the fix; only its fatal lines are kept.
  if (io.env.GLAS3D_DEBUG !== '1') ort.env.logLevel = 'fatal';
  try {
    await buildProgram(io, commands).parseAsync(argv);
    return 0;
  } catch (e) {
    // Usage errors, --help and --version: commander has already printed what it had to say.
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof Glas3dError) {
      io.err(`glas3d: ${e.message}\n`);
      return 1;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.err(`glas3d: unexpected error: ${err.message}\n`);
    if (io.env.GLAS3D_DEBUG === '1') {
      io.err(`${err.stack ?? err.message}\n`);
    } else {
      io.err(
        'This is a bug in glas3d; please report it. Set GLAS3D_DEBUG=1 for the stack trace.\n',
      );
    }
    return 2;
  }
}
