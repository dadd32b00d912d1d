/** `glas3d synth --out DIR --n-ad N --n-nc N --seed S`: a synthetic AD/NC cohort with its truth. */
import { Option, type Command } from 'commander';
import { OptionError } from '../../errors.js';
import { DEFAULT_ATROPHY_REGIONS, SYNTH_GRIDS, synthesizeCohort } from '../../synth/index.js';
import type { SynthGridName } from '../../synth/index.js';
import { fixed } from '../format.js';
import type { CliIo } from '../io.js';
import { parseCount } from '../options.js';
import { progressReporter } from '../progress.js';

interface SynthFlags {
  out: string;
  nAd: number;
  nNc: number;
  seed: number;
  atrophy?: string[];
  grid: SynthGridName;
  datatype: 'int16' | 'float32';
  overwrite?: boolean;
  quiet?: boolean;
}

/** "A,B,C" → names (empty items refused). */
function parseNameList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim());
  if (names.some((n) => n.length === 0)) {
    throw new OptionError(
      `--atrophy ${value}: give AAL region names separated by commas, e.g. --atrophy Hippocampus_L,Hippocampus_R.`,
    );
  }
  return names;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('synth')
    .description('write a synthetic AD/NC cohort (Colin27 + planted atrophy) and its ground truth')
    .requiredOption('--out <dir>', 'output folder (ad/, nc/, participants.tsv, truth.json)')
    .requiredOption('--n-ad <n>', 'AD subjects', parseCount('--n-ad'))
    .requiredOption('--n-nc <n>', 'normal controls', parseCount('--n-nc'))
    .requiredOption(
      '--seed <s>',
      'random seed: the same seed gives the same files',
      parseCount('--seed'),
    )
    .option(
      '--atrophy <names>',
      `AAL regions AD subjects lose 10–35% of (comma list; default ${DEFAULT_ATROPHY_REGIONS.join(',')})`,
      parseNameList,
    )
    .addOption(new Option('--grid <grid>', 'output grid').choices(SYNTH_GRIDS).default('mni2mm'))
    .addOption(
      new Option('--datatype <type>', 'stored voxel type')
        .choices(['int16', 'float32'])
        .default('int16'),
    )
    .option('--overwrite', 'write into a non-empty folder, replacing a previous cohort')
    .option('--quiet', 'no progress or summary')
    .action(async (flags: SynthFlags) => {
      const progress = flags.quiet ? undefined : progressReporter(io, 'synth');
      const result = await synthesizeCohort({
        outDir: flags.out,
        nAd: flags.nAd,
        nNc: flags.nNc,
        seed: flags.seed,
        atrophy: flags.atrophy,
        grid: flags.grid,
        datatype: flags.datatype,
        overwrite: flags.overwrite,
        onProgress: progress?.update,
      });
      progress?.done();
      if (flags.quiet) return;
      io.out(
        `wrote ${flags.nAd} AD + ${flags.nNc} NC subjects to ${result.outDir} (${fixed(result.secondsPerSubject, 2)} s per subject); truth in ${result.truth}, table in ${result.participants}\n`,
      );
    });
}
