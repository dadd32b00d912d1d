/** `glas3d merge OUT1 OUT2 … --out FINAL`: join the shards of a run into one results folder. */
import type { Command } from 'commander';
import { mergeProblems, mergeShards } from '../../cohort/merge.js';
import { Glas3dError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { writeWarnings } from '../options.js';
import { ALL_FLAT, printSummary } from './run.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('merge')
    .description(
      'merge the results folders of glas3d run --shard i/n into one, with the cohort outputs',
    )
    .argument('<shards...>', 'the --out folders of the shard runs')
    .requiredOption('--out <dir>', 'the merged results folder')
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--quiet', 'no summary or table (warnings and problems are still said)')
    .action(async (shards: string[], flags: { out: string; json?: boolean; quiet?: boolean }) => {
      const summary = await mergeShards(shards, flags.out);
      writeWarnings(io, 'merge', summary.warnings);
      if (flags.json || !flags.quiet) {
        if (!flags.json)
          io.out(
            `merged ${summary.cohort} subject(s) and ${summary.control} control(s) into ${summary.out}\n`,
          );
        printSummary(io, summary, flags);
      }
      // The results are written either way; what is missing or wrong makes the exit code 1.
      const problems = [mergeProblems(summary), ...(summary.allFlat ? [ALL_FLAT] : [])];
      const said = problems.filter(Boolean);
      if (said.length > 0) throw new Glas3dError(`${said.join('; ')}.`);
    });
}
