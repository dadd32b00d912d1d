/**
 * A cohort run whose --out fills up: a full disk is no subject's fault, so the run stops at the
 * first failed write with one line naming the file and the fix, instead of explaining every
 * other subject only to fail writing it (and calling it a bug). The --out is a small tmpfs,
 * which needs root (as CI runs); elsewhere the test is skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run-cli.js';
import { runCohort } from '../../src/cohort/run.js';
import { OutputWriteError } from '../../src/errors.js';
import { makeCohort, type CohortFixture } from './cohort-fixtures.js';

let fx: CohortFixture;
let small: string;
let mounted = false;

beforeAll(async () => {
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-diskfull-')), 3, 0);
  small = join(fx.dir, 'small');
  await mkdir(small);
  try {
    // Room for run.json and the like, not for a subject's gzipped map.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
}, 120_000);

afterAll(() => {
  if (mounted) execFileSync('umount', [small]);
});

describe('a full disk', () => {
  it('stops the run at the first failed write, naming the file and the fix; exit 1, not a bug', async (ctx) => {
    if (!mounted) ctx.skip();
    const out = join(small, 'out');
    const r = await runCli([
      'run',
      '--cohort',
      fx.cohort,
      '--out',
      out,
      '--model',
      fx.model,
      '--baseline',
      'zero',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/bug|ENOSPC/);
    expect(r.stderr).toMatch(
      /glas3d: no space left on the device \(or over quota\) writing .*small\/out\/.*: free space or write elsewhere\. Then rerun the same command: the subjects finished so far are kept\./,
    );

    // Stopped at the first subject: the others were never started.
    const started: string[] = [];
    const run = runCohort({
      cohort: fx.cohort,
      out: join(small, 'lib'),
      model: fx.model,
      baseline: 'zero',
      onEvent: (e) => void (e.kind === 'subject' && started.push(e.id)),
    });
    await expect(run).rejects.toThrow(OutputWriteError);
    expect(started).toEqual(['01']);
  });
});
