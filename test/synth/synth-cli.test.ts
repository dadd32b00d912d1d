/** `glas3d synth`: a thin shell over synthesizeCohort, with one-line errors a user can act on. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { synthesizeSubject, type CohortTruth } from '../../src/synth/index.js';
import { readVolume } from '../../src/volume/index.js';

let root: string;
const dir = (name: string) => join(root, name);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'glas3d-synth-cli-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `glas3d synth` into dir(out) with these group sizes and seed, then any further arguments. */
function synth(
  { out, ad, nc, seed }: { out: string; ad: number | string; nc: number; seed: number },
  ...more: string[]
) {
  const counts = ['--n-ad', String(ad), '--n-nc', String(nc), '--seed', String(seed)];
  return runCli(['synth', '--out', dir(out), ...counts, ...more]);
}

async function truthOf(d: string): Promise<CohortTruth> {
  return JSON.parse(await readFile(join(d, 'truth.json'), 'utf8')) as CohortTruth;
}

describe('glas3d synth', () => {
  it('writes the same subject as the library, quietly', async () => {
    const r = await synth({ out: 'cli', ad: 1, nc: 0, seed: 5 }, '--quiet');
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const file = await readVolume(join(dir('cli'), 'ad/sub-ad001.nii.gz'));
    const subject = await synthesizeSubject({ seed: 5, group: 'AD', number: 1 });
    expect(file.data).toEqual(subject.volume.data.map(Math.round));
  });

  it('plants the regions named, and says which names are close to an unknown one', async () => {
    const r = await synth(
      { out: 'cli2', ad: 1, nc: 0, seed: 1 },
      '--atrophy',
      'Hippocampus_L,Hipocampus_R',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^glas3d: unknown AAL region "Hipocampus_R"; close names: Hippocampus_R, Hippocampus_L/,
    );
    expect(existsSync(dir('cli2'))).toBe(false);

    const ok = await synth(
      { out: 'cli2', ad: 1, nc: 0, seed: 1 },
      '--atrophy',
      'precuneus_l',
      '--datatype',
      'float32',
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^wrote 1 AD \+ 0 NC subjects to /);
    const truth = await truthOf(dir('cli2'));
    expect(truth.planted.map((p) => p.name)).toEqual(['Precuneus_L']);
    expect(truth.datatype).toBe('float32');
    const v = await readVolume(join(dir('cli2'), 'ad/sub-ad001.nii.gz'));
    expect(v.source.header.datatype).toBe('float32');
  });

  it('refuses a non-empty folder and bad numbers with one line', async () => {
    const again = await synth({ out: 'cli', ad: 1, nc: 1, seed: 5 });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^glas3d: .* is not empty; .*--overwrite/);
    const bad = await synth({ out: 'x', ad: 'two', nc: 1, seed: 5 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--n-ad two: give a whole number/);
  });
});
