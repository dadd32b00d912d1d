import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { writeVolume } from '../../src/volume/index.js';
import { NAMES, syntheticLabels } from '../atlas/synthetic.js';

const ROOT = resolve(import.meta.dirname, '../..');
const AAL = join(ROOT, 'atlases/aal/aal.nii.gz');
const T1 = resolve(ROOT, '../shared/data/mri/t1_crop.nii.gz');
const HAS_T1 = existsSync(T1);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glas3d-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A clean user-facing failure: exit 1, one line "glas3d: …", no stack. */
function expectCleanError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^glas3d: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('glas3d info', () => {
  it('describes aal.nii.gz (JSON)', async () => {
    const r = await runCli(['info', AAL, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      dims: [181, 217, 181],
      volumes: 1,
      spacingMm: [1, 1, 1],
      datatype: 'uint8',
      sformCode: 4,
      qformCode: 0,
      affineSource: 'sform',
      orientation: 'RAS',
      nonFiniteVoxels: 0,
      intensity: { min: 0, max: 116 },
    });
    expect(info.affine).toEqual([
      [1, 0, 0, -90],
      [0, 1, 0, -125],
      [0, 0, 1, -71],
      [0, 0, 0, 1],
    ]);
  });

  it('describes aal.nii.gz (text)', async () => {
    const r = await runCli(['info', AAL]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dims\s+181 × 217 × 181$/m);
    expect(r.stdout).toMatch(/^sform_code\s+4 \(mni_152\)$/m);
    expect(r.stdout).toMatch(/^affine\s+sform/m);
    expect(r.stdout).toMatch(/^\s+0\s+1\s+0\s+-125$/m);
    expect(r.stdout).toMatch(/^orientation\s+RAS$/m);
    expect(r.stdout).toMatch(/^non-finite\s+0$/m);
  });

  it.skipIf(!HAS_T1)(
    'describes t1_crop.nii.gz: LIA, sform code 2 (needs ../shared/data/mri)',
    async () => {
      const r = await runCli(['info', T1, '--json']);
      expect(r.code).toBe(0);
      const info = JSON.parse(r.stdout);
      expect(info).toMatchObject({
        dims: [256, 256, 256],
        orientation: 'LIA',
        sformCode: 2,
        affineSource: 'sform',
      });
    },
  );

  it('counts NaN voxels instead of refusing the file', async () => {
    const p = join(dir, 'nan.nii');
    const data = new Float32Array(8).fill(2);
    data[3] = NaN;
    data[5] = Infinity;
    await writeVolume(p, {
      dims: [2, 2, 2],
      affine: [
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 2, 0],
        [0, 0, 0, 1],
      ],
      data,
    });
    const r = await runCli(['info', p, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.nonFiniteVoxels).toBe(2);
    expect(info.intensity).toEqual({ min: 0, max: 2, mean: 1.5 });
    expect((await runCli(['info', p])).stdout).toMatch(/^non-finite\s+2 \(NaN\/Inf/m);
  });

  it('fails with one clean line on a file of random bytes', async () => {
    const p = join(dir, 'random.nii');
    await writeFile(p, Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) % 256)));
    expectCleanError(await runCli(['info', p]), /random\.nii: not a NIfTI file/);
    expectCleanError(await runCli(['info', join(dir, 'absent.nii')]), /absent\.nii: cannot read/);
  });
});

describe('glas3d atlas', () => {
  it('aal --csv: 116 rows; Hippocampus_L matches nibabel', async () => {
    const r = await runCli(['atlas', 'aal', '--csv']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const [header, ...rows] = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(','));
    expect(rows).toHaveLength(116);
    const col = (name: string) => header.indexOf(name);
    const h = rows.find((row) => row[col('name')] === 'Hippocampus_L');
    expect(h).toBeDefined();
    const row = h as string[];
    expect(row[col('index')]).toBe('37');
    expect(row[col('hemisphere')]).toBe('L');
    expect(row[col('voxels')]).toBe('7469');
    expect(Number(row[col('volume_mm3')])).toBe(7469);
    const centre = ['centre_x_mm', 'centre_y_mm', 'centre_z_mm'].map((c) => Number(row[col(c)]));
    [-26.03, -20.74, -10.13].forEach((v, i) =>
      expect(Math.abs(centre[i] - v)).toBeLessThanOrEqual(0.01),
    );
    expect(row[col('centre_inside')]).toBe('yes');
    const outside = rows
      .filter((x) => x[col('centre_inside')] === 'no')
      .map((x) => Number(x[col('index')]));
    expect(outside).toEqual([4, 21, 22, 101, 102]);
  });

  it('aal (text table) and --json', async () => {
    const text = await runCli(['atlas', 'aal']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^aal: 116 regions on 181×217×181/);
    expect(text.stdout).toMatch(
      /^\s+37\s+Hippocampus_L\s+L\s+7469\s+7469\s+-26\.03\s+-20\.74\s+-10\.13\s/m,
    );
    const json = await runCli(['atlas', 'aal', '--json']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.regions).toHaveLength(116);
    expect(parsed.regions[41]).toMatchObject({ index: 42, name: 'Amygdala_R', voxels: 1965 });
  });

  it('PATH --names FILE, with a note on stderr for a name without voxels', async () => {
    const labels = join(dir, 'syn.nii.gz');
    const names = join(dir, 'syn-names.csv');
    await writeVolume(labels, syntheticLabels(), { datatype: 'int16' });
    await writeFile(
      names,
      'index,name\n' +
        [...NAMES, { index: 50, name: 'Ghost' }].map((n) => `${n.index},${n.name}`).join('\n'),
    );
    const r = await runCli(['atlas', labels, '--names', names, '--csv']);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').slice(0, 4)),
    ).toEqual([
      ['1', 'BoxA', 'R', '27'],
      ['3', 'Middle', 'midline', '4'],
      ['7', 'Thing_R', 'R', '24'],
      ['12', 'Ell', 'R', '13'],
    ]);
    expect(r.stdout).toMatch(
      /^12,Ell,R,13,195\.000,6\.769,8\.462,22\.000,10\.000,7\.500,22\.000,no$/m,
    );
    expect(r.stderr).toMatch(/^glas3d: note: .*Ghost \(50\)/);
  });

  it('errors are one clean line', async () => {
    expectCleanError(
      await runCli(['atlas', join(dir, 'nope.nii.gz')]),
      /no such file.*built in: aal/,
    );
    const names = join(dir, 'dup.txt');
    await writeFile(names, '1 A\n1 B\n');
    expectCleanError(await runCli(['atlas', 'aal', '--names', names]), /dup\.txt, line 2: index 1/);
  });

  it('usage errors exit 1 with commander’s message', async () => {
    const r = await runCli(['atlas', 'aal', '--csv', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot be used with/);
    expect((await runCli(['frobnicate'])).code).toBe(1);
    const v = await runCli(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });
});

describe('unexpected errors', () => {
  const buggy = [
    (program: import('commander').Command) => {
      program.command('boom').action(() => {
        throw new TypeError('x is undefined');
      });
    },
  ];

  it('say it is a bug, exit 2, and show the stack only with GLAS3D_DEBUG=1', async () => {
    const quiet = await runCli(['boom'], { commands: buggy });
    expect(quiet.code).toBe(2);
    expect(quiet.stderr).toMatch(/^glas3d: unexpected error: x is undefined\nThis is a bug/);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const loud = await runCli(['boom'], { commands: buggy, env: { GLAS3D_DEBUG: '1' } });
    expect(loud.code).toBe(2);
    expect(loud.stderr).toMatch(/TypeError: x is undefined\n\s+at /);
  });
});

describe('as a process', () => {
  it('node --import tsx src/cli/entry.ts: exit code and stderr of a real run', async () => {
    const p = join(dir, 'bytes.nii.gz');
    await writeFile(p, Buffer.from('definitely not gzip or nifti'));
    const run = promisify(execFile);
    const err = await run(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'info', p], {
      cwd: ROOT,
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect('code' in err ? err.code : 0).toBe(1);
    expect(err.stdout).toBe('');
    expect(err.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^glas3d: .*bytes\.nii\.gz: .*not NIfTI/),
    ]);
  });

  it('a reader that goes away (| head) does not crash the command', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'atlas', 'aal'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // The reader is gone before the first line, as with `| head -0` or a closed pager.
    child.stdout.destroy();
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});

describe('usage errors', () => {
  it("point at the command's own --help, not the command list", async () => {
    const r = await runCli(['run', '--cohort', 'x', '--model', 'm.onnx', '--no-such-flag', '5']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
    expect(r.stderr).toMatch(/glas3d run --help lists its options/);
    expect((await runCli(['nosuchcommand'])).stderr).toMatch(/glas3d --help lists the commands/);
  });
});
