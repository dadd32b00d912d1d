/**
 * `glas3d eval pointing`: the pointing game (src/image/pointing.ts) over a folder of photos with
 * PASCAL VOC XML or COCO JSON boxes, for GLAS, RISE or the centre-of-image baseline.
 */
import { Option, type Command } from 'commander';
import type { GlasMode } from '../../glas3d/index.js';
import {
  IMAGE_BASELINES,
  IMAGE_PRESET_NAMES,
  IMAGE_PRESETS,
  POINTING_METHODS,
  readClassMap,
  runPointingGame,
  type ImageBaselineKind,
  type PointingGameResult,
  type PointingSkip,
  type ImagePresetName,
  type PointingMethod,
  type SigmaUnits,
} from '../../image/index.js';
import { readPreprocessOptions } from '../../image/preprocess-file.js';
import { IMAGE_LAYOUTS, loadImageClassifiers } from '../../image/image-model.js';
import { ImageError } from '../../image/errors.js';
import { DEVICE_CHOICES, type DeviceChoice, type Layout } from '../../model/index.js';
import { fixed, formatTable } from '../format.js';
import type { CliIo } from '../io.js';
import {
  batchOption,
  dequantizeOption,
  modelOutputOption,
  AUTO_DEVICE_HELP,
  deviceOption,
  modeOption,
  noteWriter,
  parseCount,
  type ModelFlags,
} from '../options.js';
import { progressReporter } from '../progress.js';
import { OptionError } from '../../errors.js';

interface PointingFlags extends Omit<ModelFlags, 'perturbation'> {
  images: string;
  boxes: string;
  classes?: string;
  method: PointingMethod;
  mode: GlasMode;
  preset: ImagePresetName;
  grid?: number;
  sigmaLight?: number;
  sigmaShadow?: number;
  sigmaSpatial?: number;
  units: SigmaUnits;
  baseline: ImageBaselineKind;
  masks: number;
  cells: number;
  seed: number;
  limit?: number;
  tolerance: number;
  preprocess?: string;
  device: DeviceChoice;
  layout?: Layout;
}

function positive(flag: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v <= 0)
      throw new OptionError(`${flag} ${value}: give a positive number.`);
    return v;
  };
}

function nonNegative(flag: string) {
  return (value: string): number => {
    const v = Number(value);
    if (!Number.isFinite(v) || v < 0) throw new OptionError(`${flag} ${value}: give a number ≥ 0.`);
    return v;
  };
}

export function register(program: Command, io: CliIo): void {
  const evaluate = program
    .command('eval')
    .description('score explanations against ground truth (eval pointing: the pointing game)');
  evaluate
    .command('pointing')
    .description(
      'the pointing game: a hit when the map points into a box of the target class (overall and small objects)',
    )
    .requiredOption('--model <file>', 'ONNX image classifier')
    .requiredOption('--images <dir>', 'folder of photos')
    .requiredOption('--boxes <path>', 'folder of PASCAL VOC .xml files or one COCO .json file')
    .option(
      '--classes <file>',
      'JSON: box class name → model class indices (e.g. voc-to-imagenet.json)',
    )
    .addOption(
      new Option('--method <method>', 'what points').choices(POINTING_METHODS).default('glas'),
    )
    .addOption(modeOption('GLAS: eq. 1, 2 or 3'))
    .addOption(
      new Option('--preset <name>', 'GLAS k and σ (cells)')
        .choices(IMAGE_PRESET_NAMES)
        .default('ilsvrc'),
    )
    .option(
      '--grid <k>',
      'GLAS: k × k search points (default: the preset)',
      parseCount('--grid', 1),
    )
    .option('--sigma-light <σ>', 'GLAS: σ of the light', positive('--sigma-light'))
    .option('--sigma-shadow <σ>', 'GLAS: σ of the shadow', positive('--sigma-shadow'))
    .option('--sigma-spatial <σ>', 'GLAS: σ of eq. 3', positive('--sigma-spatial'))
    .addOption(
      new Option('--units <units>', 'σ units').choices(['cells', 'pixels']).default('cells'),
    )
    .addOption(
      new Option('--baseline <kind>', 'what hidden parts blend toward (GLAS, RISE)')
        .choices(IMAGE_BASELINES)
        .default('zero'),
    )
    .option('--masks <n>', 'RISE: number of masks', parseCount('--masks', 1), 2000)
    .option('--cells <s>', 'RISE: s × s cells per mask', parseCount('--cells', 2), 7)
    .option('--seed <n>', 'RISE: mask seed', parseCount('--seed'), 0)
    .option('--limit <n>', 'only the first N photos with boxes', parseCount('--limit', 1))
    .option(
      '--tolerance <px>',
      'pixels a point may miss a box by (Zhang et al.: 15)',
      nonNegative('--tolerance'),
      0,
    )
    .option('--preprocess <file>', 'preprocessing as JSON (resize, crop, mean, std, …)')
    .addOption(
      new Option(
        '--layout <layout>',
        'model input layout (default: inferred; needed when the channel axis cannot be told)',
      ).choices(IMAGE_LAYOUTS),
    )
    .addOption(batchOption())
    .addOption(deviceOption(DEVICE_CHOICES, AUTO_DEVICE_HELP))
    .addOption(dequantizeOption())
    .addOption(modelOutputOption())
    .option('--json', 'print the result (every trial) as JSON')
    .option('--quiet', 'no progress')
    .action(async (flags: PointingFlags) => {
      const preset = IMAGE_PRESETS[flags.preset];
      const classMap = flags.classes ? await readClassMap(flags.classes) : undefined;
      const preprocess = flags.preprocess
        ? await readPreprocessOptions(flags.preprocess)
        : undefined;
      // The pointing game perturbs on the host: no in-graph classifier. One model for every
      // photo, or (a model of any size without a fixed crop) one per photo size.
      const { models } = await loadImageClassifiers(
        flags.model,
        preprocess ?? {},
        {
          layout: flags.layout,
          batchSize: flags.batch,
          device: flags.device,
          perturbation: 'host',
          dequantize: flags.dequantize,
          outputName: flags.modelOutput,
        },
        (notes) => {
          if (!flags.quiet) notes.forEach(noteWriter(io, 'eval pointing'));
        },
      );
      let dequantized = false;
      const progress = flags.quiet || flags.json ? undefined : progressReporter(io, 'pointing');
      const result = await runPointingGame({
        model: async (size) => {
          const { classifier } = await models.for(size);
          dequantized ||= classifier.dequantized;
          return classifier;
        },
        images: flags.images,
        boxes: flags.boxes,
        classMap,
        method: flags.method,
        mode: flags.mode,
        grid: flags.grid ?? preset.grid,
        sigma: {
          light: flags.sigmaLight ?? preset.sigma.light,
          shadow: flags.sigmaShadow ?? preset.sigma.shadow,
          spatial: flags.sigmaSpatial ?? preset.sigma.spatial,
        },
        units: flags.units,
        baseline: flags.baseline,
        rise: { masks: flags.masks, cells: flags.cells, seed: flags.seed },
        limit: flags.limit,
        tolerance: flags.tolerance,
        preprocess,
        onPhoto: progress && ((done, total, file) => progress.update(done, total, file)),
      }).finally(() => models.dispose());
      progress?.done();
      if (flags.json) {
        io.out(
          JSON.stringify({ ...result, ...(dequantized ? { dequantized: true } : {}) }, null, 2) +
            '\n',
        );
      } else printResult(io, result);
      if (result.flat > 0) {
        const score = result.notFlat;
        io.err(
          `glas3d eval pointing: warning: ${result.flat} of ${result.overall.trials} trials are flat (no shadow moved the class's probability beyond rounding, e.g. a saturated P; "flat": true in --json): their point comes from the tie rule, not evidence. ` +
            `Without them: ${score.hits} of ${score.trials} hits${Number.isNaN(score.accuracy) ? '' : ` (accuracy ${fixed(score.accuracy, 3)})`}.\n`,
        );
      }
      const failed = result.skipped.filter((s) => s.failed);
      if (result.overall.trials === 0) {
        throw new ImageError(
          `no trial was scored: ${result.skipped.length} photo${result.skipped.length === 1 ? '' : 's'} skipped` +
            (result.skipped.length
              ? `, most often because ${commonestReason(result.skipped)}`
              : '') +
            '.',
        );
      }
      if (failed.length > 0) {
        throw new ImageError(
          `${failed.length} photo${failed.length === 1 ? '' : 's'} could not be read (listed above); the scores are over the others.`,
        );
      }
    });
}

/** The table and lines `eval pointing` prints. */
function printResult(io: CliIo, result: PointingGameResult): void {
  const p = result.parameters;
  const what =
    result.method === 'glas'
      ? `GLAS ${p.mode}, k ${p.grid}, σ ${sigmaText(p.sigma)} ${p.units}, baseline ${p.baseline}`
      : result.method === 'rise'
        ? `RISE, ${p.masks} masks of ${p.cells}×${p.cells} cells, p ${p.keep}, baseline ${p.baseline}`
        : 'the centre of the crop';
  io.out(
    `pointing game, ${what}: ${result.photos} photos, ${result.overall.trials} trials` +
      (result.skipped.length
        ? `; ${result.skipped.length} photo${result.skipped.length === 1 ? '' : 's'} skipped`
        : '') +
      '\n',
  );
  const row = (name: string, s: typeof result.overall) => [
    name,
    String(s.hits),
    String(s.trials),
    Number.isNaN(s.accuracy) ? '–' : fixed(s.accuracy, 3),
  ];
  io.out(
    formatTable(
      ['', 'hits', 'trials', 'accuracy'],
      [
        row('all', result.overall),
        row('small', result.small),
        ...(result.flat > 0 ? [row('not flat', result.notFlat)] : []),
      ],
      ['left', 'right', 'right', 'right'],
    ),
  );
  if (result.photos > 0)
    io.out(
      `${Math.round(result.forwardPassesPerPhoto)} forward passes and ${fixed(result.secondsPerPhoto, 2)} s per photo (in the model ${fixed(result.modelSecondsPerPhoto, 2)} s)\n`,
    );
  for (const s of result.skipped) io.out(`skipped ${s.file}: ${s.reason}\n`);
}

/** The reason most skipped photos share, with their count: "… (3 photos)". */
function commonestReason(skipped: readonly PointingSkip[]): string {
  const counts = new Map<string, number>();
  for (const s of skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1);
  const [reason, n] = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a));
  return `${reason} (${n} photo${n === 1 ? '' : 's'})`;
}

function sigmaText(sigma: unknown): string {
  const s = sigma as { light: number; shadow: number; spatial: number };
  return `${s.light}/${s.shadow}/${s.spatial}`;
}
