/**
 * `glas3d image IMAGE|DIR --model M.onnx`: GLAS on photos with an ImageNet-style classifier.
 * Per photo: the map over the photo (PNG at the photo's size), the raw map (.npy) and a JSON
 * record; several σ sets give one map each and a coarse-to-fine strip. See src/image/outputs.ts.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { Glas3dError, OptionError, OutputWriteError } from '../../errors.js';
import type { GlasMode, SigmaSet } from '../../glas3d/index.js';
import {
  checkLabels,
  decodeImage,
  explainImage,
  IMAGE_BASELINES,
  IMAGE_EXTENSIONS,
  IMAGE_PRESET_NAMES,
  IMAGE_PRESETS,
  ImageError,
  preprocessDecoded,
  readLabels,
  type ImageBaselineKind,
  type ImageExplanation,
  type ImagePresetName,
  type PreprocessOptions,
  type SigmaUnits,
} from '../../image/index.js';
import { readPreprocessOptions } from '../../image/preprocess-file.js';
import { IMAGE_LAYOUTS, loadImageClassifiers } from '../../image/image-model.js';
import { isImageOutput, outputStems, writeImageOutputs } from '../../image/outputs.js';
import { DEVICE_CHOICES, type DeviceChoice, type Layout } from '../../model/index.js';
import { fixed } from '../format.js';
import type { CliIo } from '../io.js';
import { checkOutDir } from '../out-dir.js';
import {
  activationOption,
  modelOutputOption,
  batchOption,
  dequantizeOption,
  AUTO_DEVICE_HELP,
  deviceOption,
  modeOption,
  parseCount,
  parseNumberList,
  perturbationOption,
  noteWriter,
  responseText,
  writeWarnings,
  type ModelFlags,
} from '../options.js';
import { progressReporter } from '../progress.js';

interface ImageFlags extends ModelFlags {
  class?: number;
  top?: boolean;
  labels?: string;
  grid?: number;
  sigmaLight?: number[];
  sigmaShadow?: number[];
  sigmaSpatial?: number[];
  units: SigmaUnits;
  preset: ImagePresetName;
  mode: GlasMode;
  baseline: ImageBaselineKind;
  recursive?: number | boolean;
  preprocess?: string;
  out: string;
  device: DeviceChoice;
  layout?: Layout;
}

/** σ sets from the three lists: each list has one value (used for every set) or n values. */
export function sigmaSets(
  light: readonly number[],
  shadow: readonly number[],
  spatial: readonly number[],
): SigmaSet[] {
  const n = Math.max(light.length, shadow.length, spatial.length);
  const lists = { '--sigma-light': light, '--sigma-shadow': shadow, '--sigma-spatial': spatial };
  for (const [flag, list] of Object.entries(lists)) {
    if (list.length !== 1 && list.length !== n) {
      throw new OptionError(
        `${flag} has ${list.length} values but another σ list has ${n}: give one value or ${n}.`,
      );
    }
  }
  const at = (list: readonly number[], i: number) => (list.length === 1 ? list[0] : list[i]);
  return Array.from({ length: n }, (_, i) => ({
    light: at(light, i),
    shadow: at(shadow, i),
    spatial: at(spatial, i),
  }));
}

/**
 * The photos of a file or folder (sorted, not recursive). A folder's own glas3d overlays (a
 * rerun) are left out, and so are its subfolders and files of other types, each counted.
 */
async function photosOf(input: string): Promise<{
  photos: string[];
  outputsSkipped: number;
  subfolders: number;
  others: Map<string, number>;
}> {
  const info = await stat(input).catch(() => undefined);
  if (!info) throw new OptionError(`${input}: no such image file or folder.`);
  if (!info.isDirectory())
    return { photos: [input], outputsSkipped: 0, subfolders: 0, others: new Map() };
  const names = await readdir(input);
  const siblings = new Set(names);
  const images: string[] = [];
  let outputsSkipped = 0;
  let subfolders = 0;
  const others = new Map<string, number>(); // extension → files
  for (const f of [...names].sort()) {
    if (f.startsWith('.')) continue; // hidden files (.DS_Store) are no one's photos
    // Symbolic links count as what they point to.
    const isDir = await stat(join(input, f)).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const ext = extname(f).toLowerCase();
    if (isDir) subfolders++;
    else if (isImageOutput(f, siblings)) outputsSkipped++;
    else if (IMAGE_EXTENSIONS.includes(ext)) images.push(f);
    else others.set(ext || '(none)', (others.get(ext || '(none)') ?? 0) + 1);
  }
  const photos = images.sort().map((f) => join(input, f));
  if (photos.length === 0) {
    throw new OptionError(
      `folder ${input} holds no photos (${IMAGE_EXTENSIONS.join(', ')})${leftOutText(subfolders, others)}.`,
    );
  }
  return { photos, outputsSkipped, subfolders, others };
}

/** "; left out 1 subfolder (not searched) and 2 files of other types (.bmp 1, .txt 1)", or ''. */
function leftOutText(subfolders: number, others: ReadonlyMap<string, number>): string {
  const parts: string[] = [];
  if (subfolders > 0)
    parts.push(
      `${subfolders} subfolder${subfolders === 1 ? '' : 's'} (not searched: give a subfolder as its own input)`,
    );
  const n = [...others.values()].reduce((a, b) => a + b, 0);
  if (n > 0) {
    const list = [...others]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([ext, k]) => `${ext} ${k}`)
      .join(', ');
    parts.push(
      `${n} file${n === 1 ? '' : 's'} of other types (${list}; convert a photo to PNG or JPEG to explain it)`,
    );
  }
  return parts.length ? `; left out ${parts.join(' and ')}` : '';
}

export function register(program: Command, io: CliIo): void {
  program
    .command('image')
    .description(
      'explain photos with GLAS: the map over each photo (PNG), the raw map (.npy), a JSON record',
    )
    .argument('<image>', 'a photo (JPEG, PNG, WebP, …) or a folder of them')
    .requiredOption('--model <file>', 'ONNX image classifier (NCHW or NHWC, 3 channels)')
    .option('--class <n>', 'class to explain (default: the top class)', parseCount('--class'))
    .option('--top', 'explain the top class (the default)')
    .option('--labels <file>', 'class names: a JSON list or a text file, one per line')
    .option('--grid <k>', 'k × k search points (default: the preset)', parseCount('--grid', 1))
    .option(
      '--sigma-light <list>',
      'σ of the light (comma list: one map each)',
      parseNumberList('--sigma-light'),
    )
    .option('--sigma-shadow <list>', 'σ of the shadow', parseNumberList('--sigma-shadow'))
    .option('--sigma-spatial <list>', 'σ of eq. 3', parseNumberList('--sigma-spatial'))
    .addOption(
      new Option('--units <units>', 'σ units').choices(['cells', 'pixels']).default('cells'),
    )
    .addOption(
      new Option(
        '--preset <name>',
        'k and σ (cells): ilsvrc = 10, 1.33/1.33/1.5; fine-grained = 15, 3/3/3',
      )
        .choices(IMAGE_PRESET_NAMES)
        .default('ilsvrc'),
    )
    .addOption(modeOption())
    .addOption(
      new Option('--baseline <kind>', 'what light and shadow blend toward')
        .choices(IMAGE_BASELINES)
        .default('zero'),
    )
    .option(
      '--recursive [passes]',
      'recursive GLAS at the first σ (default 5 passes)',
      parseCount('--recursive', 1),
    )
    .option(
      '--preprocess <file>',
      'preprocessing as JSON (resize, crop, mean, std, channelOrder, …)',
    )
    .addOption(
      new Option(
        '--layout <layout>',
        'model input layout (default: inferred; needed when the channel axis cannot be told)',
      ).choices(IMAGE_LAYOUTS),
    )
    .option('--out <dir>', 'output folder', '.')
    .addOption(batchOption())
    .addOption(deviceOption(DEVICE_CHOICES, AUTO_DEVICE_HELP))
    .addOption(perturbationOption())
    .addOption(dequantizeOption())
    .addOption(activationOption())
    .addOption(modelOutputOption())
    .option('--json', 'print a JSON summary on stdout')
    .option('--quiet', 'no progress or summary lines')
    .action(async (input: string, flags: ImageFlags) => {
      await checkOutDir('--out', flags.out);
      if (flags.top && flags.class !== undefined) {
        throw new OptionError('--class and --top contradict each other: give one.');
      }
      const preset = IMAGE_PRESETS[flags.preset];
      const sets = sigmaSets(
        flags.sigmaLight ?? [preset.sigma.light],
        flags.sigmaShadow ?? [preset.sigma.shadow],
        flags.sigmaSpatial ?? [preset.sigma.spatial],
      );
      const grid = flags.grid ?? preset.grid;
      const preprocess: PreprocessOptions = flags.preprocess
        ? await readPreprocessOptions(flags.preprocess)
        : {};
      const { photos, outputsSkipped, subfolders, others } = await photosOf(input);
      if (outputsSkipped > 0 && !flags.quiet)
        io.err(
          `glas3d image: left out ${outputsSkipped} file(s) glas3d wrote into ${input} earlier (<stem>_glas.json and its .png and .npy)\n`,
        );
      const leftOut = leftOutText(subfolders, others);
      if (leftOut && !flags.quiet) io.err(`glas3d image: in ${input}${leftOut}\n`);
      const labels = flags.labels ? await readLabels(flags.labels) : undefined;
      // One model for every photo, or (a model of any size without a fixed crop) one per size.
      const { models } = await loadImageClassifiers(
        flags.model,
        preprocess,
        {
          layout: flags.layout,
          batchSize: flags.batch,
          device: flags.device,
          perturbation: flags.perturbation,
          dequantize: flags.dequantize,
          activation: flags.activation,
          outputName: flags.modelOutput,
          check: (c) => {
            if (labels) checkLabels(labels, c.classes, flags.labels!);
            if (flags.class !== undefined) c.checkClass(flags.class);
          },
        },
        (notes) => {
          if (!flags.quiet) notes.forEach(noteWriter(io, 'image'));
        },
      );
      const summaries: Record<string, unknown>[] = [];
      const failures: string[] = [];
      const progress = flags.quiet || flags.json ? undefined : progressReporter(io, 'image');
      try {
        const stems = outputStems(photos);
        for (const [position, path] of photos.entries()) {
          const stem = stems[position];
          // One bad photo in a folder does not stop the others; a single photo fails outright.
          const failed = (e: unknown) => {
            // An output that cannot be written (disk full) would fail every photo alike.
            if (photos.length === 1 || !(e instanceof Glas3dError) || e instanceof OutputWriteError)
              throw e;
            failures.push(`${path}: ${e.message}`);
            summaries.push({ image: path, error: e.message });
            // Messages that name the photo already are not prefixed with it again.
            io.err(`glas3d: ${e.message.includes(path) ? '' : `${path}: `}${e.message}\n`);
          };
          let photo, pre;
          try {
            photo = await decodeImage(path, preprocess);
            pre = preprocessDecoded(photo, preprocess);
          } catch (e) {
            failed(e);
            continue;
          }
          try {
            // Per size, a model that cannot be loaded for this photo's size fails this photo.
            const { classifier, inGraph } = await models.for(pre);
            const explanations: ImageExplanation[] = [];
            for (let i = 0; i < sets.length; i++) {
              explanations.push(
                await explainImage(pre, {
                  model: classifier,
                  targetClass: flags.class ?? explanations[0]?.targetClass,
                  grid,
                  sigma: sets[i],
                  units: flags.units,
                  mode: flags.mode,
                  baseline: flags.baseline,
                  recursivePasses: i > 0 ? 0 : flags.recursive === true ? 5 : flags.recursive || 0,
                  inGraph,
                  onProgress:
                    progress &&
                    ((done, total) =>
                      progress.update(
                        done,
                        total,
                        `${basename(path)} (σ set ${i + 1}/${sets.length})`,
                      )),
                }),
              );
              progress?.done();
            }
            const { files, summary } = await writeImageOutputs({
              outDir: flags.out,
              stem,
              photo,
              explanations,
              image: path,
              labels,
              preset: flags.preset,
            });
            summaries.push({ ...summary, files });
            const warnings = explanations.flatMap((e) => e.warnings ?? []);
            if (!flags.quiet && !flags.json) {
              const ex = explanations[0];
              const label = labels ? ` (${labels[ex.targetClass]})` : '';
              const passes = explanations.reduce((s, e) => s + e.forwardPasses, 0);
              const seconds = explanations.reduce((s, e) => s + e.timing.totalMs, 0) / 1000;
              io.out(
                `${basename(path)}: ${responseText(ex.targetClass, ex.probability, ex.model.activation, label)}; ` +
                  `${passes} forward passes in ${fixed(seconds, 1)} s → ${files.strip ?? files.overlays[0]}\n`,
              );
            }
            writeWarnings(
              io,
              'image',
              warnings.map((w) => `${basename(path)}: ${w}`),
            );
          } catch (e) {
            failed(e);
          }
        }
      } finally {
        await models.dispose();
      }
      if (flags.json) io.out(JSON.stringify(summaries, null, 2) + '\n');
      if (failures.length > 0) {
        throw new ImageError(
          failures.length === photos.length
            ? `all ${photos.length} photos failed (listed above); nothing was written.`
            : `${failures.length} of ${photos.length} photos failed (listed above); the others were written to ${flags.out}.`,
        );
      }
    });
}
