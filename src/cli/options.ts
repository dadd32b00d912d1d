/**
 * Options shared by commands: parsers of option values (each throws an OptionError a user can act
 * on), the options themselves, and the notes a command prints.
 */
import { Option } from 'commander';
import { OptionError } from '../errors.js';
import { DEFAULT_SIGMA_MM } from '../explain/explain-volume.js';
import type { GlasMode } from '../glas3d/index.js';
import {
  ACTIVATIONS,
  PERTURBATION_SITES,
  type Activation,
  type AxisOrder,
  type Layout,
  type PerturbationSite,
} from '../model/index.js';
import { INTENSITY_NORMALIZATIONS, type IntensityNormalization } from '../volume/index.js';
import { responseNumber } from './format.js';
import type { CliIo } from './io.js';

/** "10" or "5,10,15" → positive numbers. */
export function parseNumberList(flag: string) {
  return (value: string): number[] => {
    const list = value.split(',').map((s) => Number(s.trim()));
    if (list.length === 0 || list.some((x) => !Number.isFinite(x) || x <= 0)) {
      throw new OptionError(
        `${flag} ${value}: give positive numbers separated by commas, e.g. ${flag} 5,10,15.`,
      );
    }
    return list;
  };
}

/** A non-negative whole number. */
export function parseCount(flag: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new OptionError(`${flag} ${value}: give a whole number ≥ ${min}.`);
    }
    return n;
  };
}

/** The flags of every command that loads a model and runs GLAS over it. */
export interface ModelFlags {
  model: string;
  batch?: number;
  perturbation?: PerturbationSite;
  dequantize?: boolean;
  activation?: Activation;
  modelOutput?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The flags of the volume commands (explain, run) besides their own. */
export interface VolumeFlags extends ModelFlags {
  atlas: string;
  names?: string;
  template?: string;
  out: string;
  sigma: number[];
  mode: GlasMode;
  baseline: string;
  class?: number;
  layout?: Layout;
  axes?: AxisOrder;
  normalize: IntensityNormalization;
}

/** --template: the T1 template in the atlas's space (AAL: Colin27). */
export const templateOption = () =>
  new Option(
    '--template <file>',
    "T1 template in the atlas's space, for --baseline template (default: Colin27 for aal)",
  );

/** --mode: eq. 1, 2 or 3. */
export const modeOption = (help = 'eq. 1, 2 or 3') =>
  new Option('--mode <mode>', help).choices(['light', 'shadow', 'fusion']).default('fusion');

/** --sigma in mm (the volume commands). */
export const sigmaMmOption = () =>
  new Option('--sigma <mm>', 'σ in mm, one map each (comma list)')
    .argParser(parseNumberList('--sigma'))
    .default([DEFAULT_SIGMA_MM]);

export const batchOption = () =>
  new Option('--batch <n>', 'samples per model call').argParser(parseCount('--batch', 1));

export const AUTO_DEVICE_HELP = 'execution provider (auto: CUDA, then WebGPU, then CPU)';
export const deviceOption = (choices: readonly string[], help = 'execution provider') =>
  new Option('--device <device>', help).choices(choices).default('cpu');

export const perturbationOption = () =>
  new Option(
    '--perturbation <site>',
    'where perturbed copies are made: host (JS) or device (inside the model graph); default device on a GPU unless the model is quantized (see --dequantize)',
  ).choices(PERTURBATION_SITES);

export const dequantizeOption = () =>
  new Option(
    '--dequantize',
    'run a quantized (QLinear) model as its float twin: on a GPU the whole graph runs there; probabilities differ by about its quantization noise',
  );

export const activationOption = () =>
  new Option(
    '--activation <kind>',
    "how the model's outputs become the responses GLAS explains: auto (probabilities when the graph ends in Softmax or Sigmoid; else a softmax, or a sigmoid of one column), softmax (logits), sigmoid (one logit), none (probabilities), identity (raw values, e.g. a regression such as brain age)",
  ).choices(ACTIVATIONS);

/** --model-output: which of a model's outputs holds the class scores. */
export const modelOutputOption = () =>
  new Option(
    '--model-output <name>',
    'the model output holding the class scores (default: the first float one; a model with several outputs says which it read)',
  );

/**
 * "class 1, P = 0.9312", or "output 0 = 71.2" when the responses are raw values; `label` follows
 * the index (e.g. " (house finch)").
 */
export function responseText(
  targetClass: number,
  value: number,
  activation?: Activation,
  label = '',
): string {
  return activation === 'identity'
    ? `output ${targetClass}${label} = ${responseNumber(value)}`
    : `class ${targetClass}${label}, P = ${responseNumber(value)}`;
}

/** Warnings on stderr, one line each: `glas3d COMMAND: warning: …`. */
export function writeWarnings(io: CliIo, command: string, warnings: readonly string[] = []): void {
  for (const w of warnings) io.err(`glas3d ${command}: warning: ${w}\n`);
}

export const normalizeOption = () =>
  new Option('--normalize <method>', 'intensity normalization as the model was trained')
    .choices(INTENSITY_NORMALIZATIONS)
    .default('none');

/** A writer of notes (e.g. those of loading a model): one line each on stderr, `glas3d COMMAND: …`. */
export const noteWriter =
  (io: CliIo, command: string) =>
  (note: string): void =>
    io.err(`glas3d ${command}: ${note}\n`);
