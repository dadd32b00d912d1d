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
    // Where it ran: the CPU (the default), copies made on the host.
    expect(summary.model.device).toBe('cpu');
    expect(summary.perturbation).toBe('host');
  });

  it('--device auto says which device it took and why the others refused, and records it', async () => {
    const out = join(dir, 'auto');
    const r = await runCli([
      'explain',
      volumePath,
      '--model',
      modelPath,
      '--out',
      out,
      '--baseline',
      'zero',
      '--device',
      'auto',
    ]);
    expect(r.code).toBe(0);
    const took = /glas3d explain: device auto took (cuda|webgpu|cpu)/.exec(r.stderr);
    expect(took, r.stderr).not.toBeNull();
    // A refusal is its reason, not advice to pick another device.
    expect(r.stderr).not.toMatch(/or use --device|\.;/);
    const summary = JSON.parse(await readFile(join(out, 'explanation.json'), 'utf8'));
    expect(summary.model.device).toBe(took![1]);
    expect(summary.perturbation).toBe(took![1] === 'cpu' ? 'host' : 'device');
    expect(summary.targetClass).toBe(1);
  });

  it('bad input: one clean line, exit code 1, no stack', async () => {
    const out = join(dir, 'bad');
    for (const [args, pattern] of [
      [['--class', '7'], /class 7 is out of range/],
      [['--sigma', '0'], /--sigma 0: give positive numbers/],
      [['--baseline', 'nonsense'], /--baseline nonsense: not one of/],
      [['--template', join(dir, 'absent.nii.gz')], /absent\.nii\.gz: no such template file/],
    ] as const) {
      const r = await runCli(['explain', volumePath, '--model', modelPath, '--out', out, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a label-image atlas: the template baseline needs --template, which the CLI takes', async () => {
    const labels = join(dir, 'labels.nii.gz');
    const names = join(dir, 'labels.txt');
    await writeVolume(labels, w.onGrid.labels);
    await writeFile(names, w.onGrid.regions.map((r) => `${r.index} ${r.name}`).join('\n'));
    const args = ['explain', volumePath, '--model', modelPath, '--atlas', labels, '--names', names];
    const without = await runCli([...args, '--out', join(dir, 'no-template')]);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/needs a T1 template in the atlas's space.* --template FILE/);
    const template = join(dir, 'template.nii.gz');
    await writeVolume(template, w.volume);
    const given = await runCli([
      ...args,
      '--template',
      template,
      '--sigma',
      '10',
      '--out',
      join(dir, 'with-template'),
    ]);
    expect(given.stderr).not.toMatch(/error|bug/i);
    expect(given.code).toBe(0);
    const e = JSON.parse(await readFile(join(dir, 'with-template', 'explanation.json'), 'utf8'));
    expect(e.baseline).toBe('template');
  });

  it('a regression: --activation identity explains the value; read as a logit it warns, flat', async () => {
    const agePath = join(dir, 'age.onnx');
    // y = 10·(Σ W·x)/(Σ W·volume) + 60: 70 "years" on this volume.
    await writeFile(
      agePath,
      linearOracle(w, regionWeights(w, { 37: 1, 42: 1 }), { output: 'one-logit', zAtVolume: 70 }),
    );
    const args = ['explain', volumePath, '--model', agePath, '--baseline', 'zero', '--sigma', '10'];
    const asValue = await runCli([...args, '--out', join(dir, 'age'), '--activation', 'identity']);
    expect(asValue.code).toBe(0);
    expect(asValue.stdout).toMatch(/output 0 = 70(\.0\d*)?;/);
    expect(asValue.stdout).toMatch(/\n\s*1\s+(Hippocampus_L|Amygdala_R)\s/);
    expect(asValue.stderr).not.toMatch(/warning/);

    const asLogit = await runCli([...args, '--out', join(dir, 'age-logit'), '--quiet']);
    expect(asLogit.code).toBe(0);
    expect(asLogit.stderr).toMatch(
      /glas3d explain: warning: σ 10 mm: the explanation is flat.*--activation identity/,
    );
    const summary = JSON.parse(await readFile(join(dir, 'age-logit', 'explanation.json'), 'utf8'));
    expect(summary.model.activation).toBe('sigmoid');
    expect(summary.warnings).toHaveLength(1);
  });

  it('a model with two outputs: the first is read and named on stderr; --model-output picks the other', async () => {
    const twoPath = join(dir, 'two-outputs.onnx');
    await writeFile(
      twoPath,
      linearOracle(w, regionWeights(w, { 37: 1, 42: 1 }), {
        spec: { outputName: 'aux', extraOutputs: [{ name: 'scores', kind: 'softmax' }] },
      }),
    );
    const args = ['explain', volumePath, '--model', twoPath, '--baseline', 'zero', '--sigma', '10'];
    const first = await runCli([...args, '--out', join(dir, 'two-a')]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(
      /glas3d explain: .*two-outputs\.onnx has 2 outputs \('aux' float32 \[N,2\], 'scores' float32 \[N,2\]\); explaining 'aux'/,
    );
    const picked = await runCli([...args, '--out', join(dir, 'two-b'), '--model-output', 'scores']);
    expect(picked.code).toBe(0);
    expect(picked.stderr).not.toMatch(/has 2 outputs/);
    const summary = JSON.parse(await readFile(join(dir, 'two-b', 'explanation.json'), 'utf8'));
    expect(summary.model.activation).toBe('none'); // the Softmax output, read as probabilities
  });
});
