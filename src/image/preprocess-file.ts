/** Preprocessing options from a JSON file (`glas3d image --preprocess FILE.json`). */
import { readFile } from 'node:fs/promises';
import { OptionError } from '../errors.js';
import { checkPreprocessOptions, type PreprocessOptions } from './preprocess.js';
import { checkAlphaBackground } from './decode.js';

const KEYS = [
  'resize',
  'interpolation',
  'crop',
  'mean',
  'std',
  'channelOrder',
  'applyIccProfile',
  'alphaBackground',
] as const;

/**
 * E.g. `{ "resize": 256, "crop": 224, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5] }`:
 * the keys of PreprocessOptions (resize, interpolation, crop, mean, std, channelOrder,
 * applyIccProfile, alphaBackground); unknown keys are refused so a typo is not silently ignored.
 */
export function parsePreprocessOptions(
  text: string,
  source = 'preprocess options',
): PreprocessOptions {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new OptionError(
      `${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OptionError(`${source} must be a JSON object, e.g. { "resize": 256, "crop": 224 }.`);
  }
  const unknown = Object.keys(value).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new OptionError(
      `${source}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; use ${KEYS.join(', ')}.`,
    );
  }
  const options = value as PreprocessOptions;
  try {
    checkPreprocessOptions(options);
  } catch (e) {
    if (e instanceof OptionError) throw new OptionError(`${source}: ${e.message}`);
    throw e;
  }
  if (options.alphaBackground !== undefined) {
    try {
      checkAlphaBackground(options.alphaBackground);
    } catch (e) {
      throw new OptionError(`${source}: ${(e as Error).message}`);
    }
  }
  const a = options.applyIccProfile;
  if (a !== undefined && typeof a !== 'boolean') {
    throw new OptionError(`${source}: applyIccProfile must be true or false.`);
  }
  return options;
}

export async function readPreprocessOptions(path: string): Promise<PreprocessOptions> {
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new OptionError(
      `cannot read preprocess options ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  });
  return parsePreprocessOptions(text, path);
}
