/**
 * Class names for a classifier's output indices: a JSON list of strings in index order (like
 * imagenet-simple-labels.json), or a text file with one name per line. A line that starts with a
 * WordNet id ("n01440764 tench, Tinca tinca", the ONNX Model Zoo's synset.txt) keeps the names.
 */
import { readFile } from 'node:fs/promises';
import { OptionError } from '../errors.js';

export async function readLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new OptionError(
      `cannot read labels file ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return parseLabels(text, path);
}

/** Labels from the text of a labels file (`source` names it in messages). */
export function parseLabels(text: string, source = 'labels'): string[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new OptionError(
        `labels file ${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw new OptionError(
        `labels file ${source} must be a JSON list of strings in class order (like imagenet-simple-labels.json).`,
      );
    }
    if (value.length === 0) throw new OptionError(`labels file ${source} lists no labels.`);
    return value as string[];
  }
  const lines = trimmed.split(/\r?\n/).map((l) => l.trim().replace(/^n\d{8}\s+/, ''));
  if (lines.length === 0 || lines[0] === '') {
    throw new OptionError(`labels file ${source} lists no labels.`);
  }
  return lines;
}

/** The label of a class, checked against the model's class count. */
export function checkLabels(labels: readonly string[], classes: number, source: string): void {
  if (labels.length !== classes) {
    throw new OptionError(
      `labels file ${source} has ${labels.length} labels but the model has ${classes} classes; give the labels of this model.`,
    );
  }
}
