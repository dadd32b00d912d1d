/** `glas3d merge OUT1 OUT2 … --out FINAL`: join the shards of a run into one results folder. */
import type { Command } from 'commander';
import { mergeShards } from '../../cohort/merge.js';
import { Glas3dError } from '../../errors.js';
import type { CliIo } from '../io.js';
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
    .action(async (shards: string[], flags: { out: string; json?: boolean }) => {
      const summary = await mergeShards(shards, flags.out);
      if (!flags.json)
        io.out(
          `merged ${summary.cohort} subject(s) and ${summary.control} control(s) into ${summary.out}\n`,
        );
      printSummary(io, summary, flags);
      if (summary.allFlat) throw new Glas3dError(`${ALL_FLAT}.`);
    });
}
