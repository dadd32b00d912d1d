/** `glas3d explain VOLUME --model M.onnx`: GLAS on one template-normalized volume. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadAtlas } from '../../atlas/index.js';
import { BASELINE_KINDS, type BaselineSpec } from '../../explain/baselines.js';
import { explain } from '../../explain/explain-volume.js';
import { OptionError } from '../../errors.js';
import { DEVICE_CHOICES, LAYOUTS, type DeviceChoice } from '../../model/index.js';
import { writeExplanation } from '../../report/explanation-files.js';
import { readVolume } from '../../volume/index.js';
import { fixed, formatTable, num, scoreColumn } from '../format.js';
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
  normalizeOption,
  parseCount,
  perturbationOption,
  noteWriter,
  responseText,
  sigmaMmOption,
  templateOption,
  writeWarnings,
  type VolumeFlags,
} from '../options.js';
import { progressReporter } from '../progress.js';

interface ExplainFlags extends VolumeFlags {
  device: DeviceChoice;
  recursive?: number | boolean;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('explain')
    .description('explain one template-normalized volume: saliency maps and ranked regions')
    .argument('<volume>', 'a NIfTI volume on the model input grid (.nii/.nii.gz)')
    .requiredOption('--model <file>', 'ONNX classifier')
    .option('--atlas <atlas>', '"aal" or a label image', 'aal')
    .option('--names <file>', 'region names for a label image atlas')
    .addOption(templateOption())
    .requiredOption('--out <dir>', 'output folder')
    .addOption(sigmaMmOption())
    .addOption(modeOption())
    .option(
      '--baseline <kind>',
      `what light and shadow blend toward: ${BASELINE_KINDS.join(', ')} or a volume FILE`,
      'template',
    )
    .option('--class <n>', 'class to explain (default: the top class)', parseCount('--class'))
    .addOption(
      new Option('--layout <layout>', 'model input layout (default: inferred)').choices(LAYOUTS),
    )
    .addOption(
      new Option('--axes <order>', 'volume axis order in the model input').choices(['xyz', 'zyx']),
    )
    .addOption(batchOption())
    .addOption(perturbationOption())
    .addOption(deviceOption(DEVICE_CHOICES, AUTO_DEVICE_HELP))
    .addOption(dequantizeOption())
    .addOption(activationOption())
    .addOption(modelOutputOption())
    .option(
      '--recursive [passes]',
      'recursive GLAS at the first σ (default 5 passes)',
      parseCount('--recursive', 1),
    )
    .addOption(normalizeOption())
    .option('--json', 'print a JSON summary on stdout')
    .option('--quiet', 'no progress or table')
    .action(async (volumePath: string, flags: ExplainFlags) => {
      await checkOutDir('--out', flags.out);
      const volume = await readVolume(volumePath);
      const atlas = await loadAtlas(flags.atlas, { names: flags.names, template: flags.template });
      const baseline = await baselineFromFlag(flags.baseline);
      const progress = flags.quiet ? undefined : progressReporter(io, 'explain');
      const explanation = await explain(volume, {
        model: flags.model,
        modelOptions: {
          layout: flags.layout,
          axes: flags.axes,
          batchSize: flags.batch,
          device: flags.device,
          dequantize: flags.dequantize,
          activation: flags.activation,
          outputName: flags.modelOutput,
        },
        atlas,
        sigmaMm: flags.sigma,
        mode: flags.mode,
        baseline,
        targetClass: flags.class,
        normalize: flags.normalize,
        perturbation: flags.perturbation,
        recursivePasses: flags.recursive === true ? 5 : flags.recursive || 0,
        onProgress: progress?.update,
        onNote: flags.quiet ? undefined : noteWriter(io, 'explain'),
      });
      progress?.done();
      const files = await writeExplanation(flags.out, explanation, {
        volume: resolve(volumePath),
        modelFile: resolve(flags.model),
        baselineFile: typeof baseline === 'string' ? undefined : resolve(flags.baseline),
      });
      if (flags.json) {
        io.out(
          JSON.stringify(
            {
              ...files,
              targetClass: explanation.targetClass,
              probability: explanation.probability,
              ...(explanation.model.dequantized && { dequantized: true }),
              ...(explanation.warnings && { warnings: explanation.warnings }),
            },
            null,
            2,
          ) + '\n',
        );
        writeWarnings(io, 'explain', explanation.warnings);
        return;
      }
      if (flags.quiet) return writeWarnings(io, 'explain', explanation.warnings);
      const first = explanation.maps[0];
      const score = scoreColumn(first.regions.slice(0, 10).map((r) => r.score));
      io.out(
        `${responseText(explanation.targetClass, explanation.probability, explanation.model.activation)}; ${explanation.forwardPasses} forward passes in ${fixed(explanation.timing.totalMs / 1000, 1)} s (model ${fixed(explanation.timing.modelMs / 1000, 1)} s)\n`,
      );
      io.out(
        `top regions at σ = ${first.sigmaMm} mm (${explanation.mode}, baseline ${explanation.baseline}):\n`,
      );
      io.out(
        formatTable(
          ['rank', 'region', 'hemi', 'score', 'shadow Δ'],
          first.regions
            .slice(0, 10)
            .map((r) => [
              String(r.rank),
              r.name,
              r.hemisphere,
              score(r.score),
              Number.isNaN(r.shadowDelta) ? '' : num(r.shadowDelta, 4),
            ]),
          ['right', 'left', 'left', 'right', 'right'],
        ),
      );
      io.out(
        `wrote ${files.regions}, ${files.saliency.length + files.recursive.length} map(s) and ${files.summary}\n`,
      );
      writeWarnings(io, 'explain', explanation.warnings);
    });
}

/** A baseline name, or a volume file (checked to exist). */
async function baselineFromFlag(value: string): Promise<BaselineSpec> {
  if ((BASELINE_KINDS as readonly string[]).includes(value)) return value as BaselineSpec;
  if (!existsSync(value)) {
    throw new OptionError(
      `--baseline ${value}: not one of ${BASELINE_KINDS.join(', ')} and no such file.`,
    );
  }
  return readVolume(value);
}
