/** Run the CLI in-process with captured output (for tests and scripts). */
import type { RegisterCommand } from './commands/index.js';
import { COMMANDS } from './commands/index.js';
import { captureIo } from './io.js';
import { main } from './main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `runCli(['info', 'x.nii.gz'])` runs `glas3d info x.nii.gz` and returns what it printed. */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; commands?: RegisterCommand[] } = {},
): Promise<CliResult> {
  const io = captureIo(options.env ?? {});
  const code = await main(['node', 'glas3d', ...args], io, options.commands ?? COMMANDS);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}
