/** `glas3d run --cohort DIR --model M.onnx`: explain a cohort and rank its regions. */
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { parseShard } from '../../cohort/subjects.js';
import { runCohort, type RunEvent, type RunSummary } from '../../cohort/run.js';
import type { CohortRegionRow } from '../../cohort/cohort-outputs.js';
import { releaseOwnLockSync } from '../../cohort/out-lock.js';
import { Glas3dError } from '../../errors.js';
import { DEVICE_CHOICES, LAYOUTS, type DeviceChoice } from '../../model/index.js';
import { fixed, formatTable, num, responseNumber } from '../format.js';
import { percentPoints } from '../../report/table.js';
import type { CliIo } from '../io.js';
import { checkOutDir } from '../out-dir.js';
import {
  batchOption,
  activationOption,
  modelOutputOption,
  dequantizeOption,
  AUTO_DEVICE_HELP,
  deviceOption,
  modeOption,
  normalizeOption,
  noteWriter,
  parseCount,
  perturbationOption,
  sigmaMmOption,
  type VolumeFlags,
  templateOption,
} from '../options.js';
import { progressReporter } from '../progress.js';

interface RunFlags extends VolumeFlags {
  cohort: string;
  control?: string;
  device: DeviceChoice;
  grid?: string;
  shard?: string;
  groupColumn?: string;
  group?: string;
  controlGroup?: string;
  space?: string;
  spaceCheck: boolean;
  seed: number;
  bootstrap: number;
  permutations: number;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('run')
    .description(
      'explain a cohort of template-normalized MRIs and rank the regions that drive the model',
    )
    .requiredOption(
      '--cohort <dir>',
      'a BIDS(-like) dataset (sub-<id>/anat/ folders) or a folder of .nii/.nii.gz (searched recursively; masks and segmentations left out)',
    )
    .requiredOption('--model <file>', 'ONNX classifier')
    .option('--atlas <atlas>', '"aal" or a label image', 'aal')
    .option('--names <file>', 'region names for a label image atlas')
    .addOption(templateOption())
    .option('--out <dir>', 'results folder', 'glas3d-results')
    .addOption(sigmaMmOption())
    .addOption(modeOption())
    .option(
      '--baseline <kind>',
      'zero, mean, blur, template, control (the --control mean) or a volume FILE',
      'template',
    )
    .option(
      '--class <n>',
      'class to explain (default 1 for two-class models)',
      parseCount('--class'),
    )
    .option(
      '--control <dir>',
      'a control group: explained the same way and compared region by region',
    )
    .addOption(deviceOption(DEVICE_CHOICES, AUTO_DEVICE_HELP))
    .addOption(batchOption())
    .addOption(perturbationOption())
    .addOption(dequantizeOption())
    .addOption(activationOption())
    .addOption(modelOutputOption())
    .addOption(
      new Option('--layout <layout>', 'model input layout (default: inferred)').choices(LAYOUTS),
    )
    .addOption(
      new Option('--axes <order>', 'volume axis order in the model input (default xyz)').choices([
        'xyz',
        'zyx',
      ]),
    )
    .addOption(normalizeOption())
    .option('--grid <ref>', "a volume on the model's grid (for non-standard grids)")
    .option('--shard <i/n>', 'run only shard i of n (then glas3d merge)')
    .option(
      '--group-column <name>',
      'BIDS: participants.tsv column holding the group (default "group"; needs --group)',
    )
    .option('--group <value>', 'BIDS: explain only participants of this group (exact value)')
    .option(
      '--control-group <value>',
      'BIDS: the --control participants of this group, by the same --group-column (needs --group)',
    )
    .option(
      '--space <label>',
      "BIDS: explain each participant's T1w in this template space, as fMRIPrep's --output-spaces names it (e.g. MNI152NLin6Asym:res-2)",
    )
    .option('--no-space-check', 'do not refuse scans that do not line up with the template')
    .option('--seed <n>', 'seed of the bootstrap and permutations', parseCount('--seed'), 1)
    .option(
      '--bootstrap <n>',
      "bootstrap replicates of each region's confidence interval",
      parseCount('--bootstrap', 1),
      2000,
    )
    .option(
      '--permutations <n>',
      'label permutations of each region’s p-value against the controls',
      parseCount('--permutations', 1),
      5000,
    )
    .option('--json', 'print a machine-readable summary on stdout')
    .option('--quiet', 'no progress')
    .action(async (flags: RunFlags) => {
      await checkOutDir('--out', flags.out);
      // A bar per subject on a terminal; in logs the one line per finished subject is enough.
      const progress =
        flags.quiet || !process.stderr.isTTY ? undefined : progressReporter(io, 'subject');
      let current = '';
      let kept = 0;
      let response = 'P';
      const note = noteWriter(io, 'run');
      const onEvent = (e: RunEvent) => {
        if (e.kind === 'warning') {
          return io.err(`glas3d run: warning: sub-${e.id}: ${e.text}\n`);
        }
        if (flags.quiet) return;
        if (e.kind === 'start') {
          const values = e.activation === 'identity';
          response = values ? 'output' : 'P';
          io.err(
            `glas3d run: ${e.cohort} subject(s)${e.control ? ` + ${e.control} control(s)` : ''}, explaining ${values ? 'output' : 'class'} ${e.targetClass}\n`,
          );
        } else if (e.kind === 'subject') {
          current = `[${e.position}/${e.total}] ${e.group === 'control' ? 'control ' : ''}sub-${e.id}`;
        } else if (e.kind === 'progress') {
          progress?.update(e.done, e.total, current);
        } else if (e.kind === 'done') {
          kept++;
          progress?.done();
          io.err(
            `${current}: ${response} = ${responseNumber(e.probability)}, ${fixed(e.seconds, 1)} s\n`,
          );
        } else if (e.kind === 'skipped') {
          kept++;
          io.err(`sub-${e.id}: already done, skipped\n`);
        } else if (e.kind === 'note') {
          note(e.text);
        } else if (e.kind === 'failed') {
          progress?.done();
          io.err(`${current}: FAILED: ${e.reason}\n`);
        }
      };
      // Ctrl-C or a scheduler's SIGTERM: every file is written whole (see atomic.ts), so say what
      // is kept and how to go on, then exit as the signal would. The handler runs when the JS
      // thread is free, at most one model batch after the signal.
      const interrupted = (signal: NodeJS.Signals) => {
        progress?.done();
        io.err(
          `\nglas3d run: interrupted (${signal}): ${kept} finished subject(s) in ${flags.out} are kept; rerun the same command to go on.\n`,
        );
        releaseOwnLockSync(flags.out);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
      const summary = await runCohort({
        cohort: flags.cohort,
        control: flags.control,
        out: flags.out,
        model: flags.model,
        atlas: flags.atlas,
        names: flags.names,
        template: flags.template,
        sigmaMm: flags.sigma,
        mode: flags.mode,
        baseline: flags.baseline,
        targetClass: flags.class,
        device: flags.device,
        batchSize: flags.batch,
        perturbation: flags.perturbation,
        dequantize: flags.dequantize,
        activation: flags.activation,
        outputName: flags.modelOutput,
        layout: flags.layout,
        axes: flags.axes,
        normalize: flags.normalize,
        grid: flags.grid,
        shard: flags.shard ? parseShard(flags.shard) : undefined,
        groupColumn: flags.groupColumn,
        group: flags.group,
        controlGroup: flags.controlGroup,
        space: flags.space,
        checkSpace: flags.spaceCheck,
        seed: flags.seed,
        bootstrap: flags.bootstrap,
        permutations: flags.permutations,
        onEvent,
      }).finally(() => process.off('SIGINT', interrupted).off('SIGTERM', interrupted));
      printSummary(io, summary, flags);
      const problems = [
        ...(summary.failed.length > 0
          ? [
              summary.explained + summary.skipped === 0
                ? `all ${summary.failed.length} subject(s) failed (reasons in ${summary.out}/errors.tsv); there is no ranking`
                : `${summary.failed.length} subject(s) failed (reasons in ${summary.out}/errors.tsv); the other subjects' results are written`,
            ]
          : []),
        ...(summary.allFlat ? [ALL_FLAT] : []),
      ];
      if (problems.length > 0) throw new Glas3dError(`${problems.join('; ')}.`);
    });
}

/** Said when every cohort subject's explanation is flat (RunSummary.allFlat). */
export const ALL_FLAT =
  "every cohort subject's explanation is flat, so the order of regions.csv is rounding noise, not evidence (in fusion mode it follows the light responses times that noise: the sidecars' warnings say whether --mode light would rank by them; the results are written, the cause is in each sidecar's warnings)";

export function printSummary(
  io: CliIo,
  summary: RunSummary | { regions: CohortRegionRow[]; files: string[]; allFlat?: boolean },
  flags: { json?: boolean; quiet?: boolean },
): void {
  if (flags.json) {
    io.out(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  if ('explained' in summary) {
    io.out(
      `${summary.explained} explained, ${summary.skipped} already done, ${summary.failed.length} failed${summary.explained ? ` (${fixed(summary.secondsPerSubject, 1)} s per subject)` : ''}\n`,
    );
    for (const f of summary.failed) io.out(`  failed: sub-${f.id} (${f.path}): ${f.reason}\n`);
    if (summary.flat.length > 0) {
      const ids = summary.flat.map((f) => `${f.group === 'control' ? 'control ' : ''}sub-${f.id}`);
      io.out(
        `  flat: ${ids.join(', ')}: no shadow moved the model's response beyond rounding, so these maps are noise` +
          (summary.allFlat ? '' : ", yet count in the cohort ranking like any subject's") +
          " (the cause is in each sidecar's warnings)\n",
      );
    }
  }
  if (summary.allFlat) {
    io.out(`\nno ranking: ${ALL_FLAT}.\n`);
  } else if (summary.regions.length > 0) {
    const sigma = summary.regions[0].sigmaMm;
    const top = summary.regions.filter((r) => r.sigmaMm === sigma).slice(0, 10);
    const withControl = top[0]?.control !== undefined;
    io.out(
      `\ntop regions at σ = ${sigma} mm (score: mean of per-subject scores normalized to each subject's maximum):\n`,
    );
    io.out(
      formatTable(
        [
          'rank',
          'region',
          'hemi',
          'score',
          '95% CI',
          'top-10',
          ...(withControl ? ['Δ share vs control', 'p', 'q'] : []),
        ],
        top.map((r) => [
          String(r.rank),
          r.name,
          r.hemisphere,
          fixed(r.score, 3),
          // One subject gives no interval (NaN).
          Number.isNaN(r.ciLow) ? '–' : `${fixed(r.ciLow, 3)}–${fixed(r.ciHigh, 3)}`,
          `${Math.round(100 * r.top10Fraction)}%`,
          ...(r.control
            ? [percentPoints(r.control.difference), num(r.control.p, 4), num(r.control.q, 4)]
            : []),
        ]),
        ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  if ('explained' in summary && summary.explained + summary.skipped === 0)
    io.out(`\nnothing explained; the reasons are in ${join(summary.out, 'errors.tsv')}\n`);
  else if ('explained' in summary && summary.shard)
    io.out(
      `\nresults: ${join(summary.out, 'sub-*')} (shard ${summary.shard}: glas3d merge of all shards writes regions.csv and the cohort maps)\n`,
    );
  else if ('explained' in summary && summary.regions.length === 0)
    io.out(
      `\nno cohort subject finished, so no ranking and no cohort maps; the reasons are in ${join(summary.out, 'errors.tsv')}\n`,
    );
  else io.out(`\nresults: ${summary.files.join(', ')}\n`);
}
