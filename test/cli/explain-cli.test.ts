import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { writeVolume } from '../../src/volume/index.js';
import {
  linearOracle,
  oracleWorld,
  parseCsv,
  regionWeights,
  type OracleWorld,
} from '../explain/oracle-fixtures.js';

let w: OracleWorld;
let dir: string;
let volumePath: string;
let modelPath: string;

beforeAll(async () => {
  w = await oracleWorld();
  dir = await mkdtemp(join(tmpdir(), 'glas3d-explain-cli-'));
  volumePath = join(dir, 'colin_2mm.nii.gz');
  modelPath = join(dir, 'oracle.onnx');
  await writeVolume(volumePath, w.volume);
  await writeFile(modelPath, linearOracle(w, regionWeights(w, { 37: 1, 42: 1 })));
});

describe('glas3d explain', () => {
  it('writes one map per σ and a ranked regions.csv, and prints the top regions', async () => {
    const out = join(dir, 'out');
    const r = await runCli([
      'explain',
      volumePath,
      '--model',
      modelPath,
      '--atlas',
      'aal',
      '--out',
      out,
      '--sigma',
      '5,10',
      '--baseline',
      'zero',
    ]);
    expect(r.stderr).not.toMatch(/error|bug/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/class 1, P = 0\.6\d/);
    expect(r.stdout).toMatch(/\n\s*1\s+(Hippocampus_L|Amygdala_R)\s/);
    expect(readdirSync(out).sort()).toEqual([
      'explanation.json',
      'regions.csv',
      'saliency_sigma-10.nii.gz',
      'saliency_sigma-5.nii.gz',
    ]);
    const rows = parseCsv(await readFile(join(out, 'regions.csv'), 'utf8'));
    expect(Object.keys(rows[0])).toEqual([
      'sigma_mm',
      'rank',
      'index',
      'name',
      'hemisphere',
      'score',
      'region_mean',
      'f_light',
      'f_shadow',
      'shadow_delta',
      'search_x_mm',
      'search_y_mm',
      'search_z_mm',
    ]);
    const summary = JSON.parse(await readFile(join(out, 'explanation.json'), 'utf8'));
    expect(summary.targetClass).toBe(1);
    expect(summary.forwardPasses).toBe(1 + 2 * 116 * 2);
  });

  it('bad input: one clean line, exit code 1, no stack', async () => {
    const out = join(dir, 'bad');
    for (const [args, pattern] of [
      [['--class', '7'], /class 7 is out of range/],
      [['--sigma', '0'], /--sigma 0: give positive numbers/],
      [['--baseline', 'nonsense'], /--baseline nonsense: not one of/],
    ] as const) {
      const r = await runCli(['explain', volumePath, '--model', modelPath, '--out', out, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
