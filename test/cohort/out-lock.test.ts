/**
 * One run per --out: a second run on a folder another run is writing is refused (they would
 * overwrite each other's files and each summarize a mix); a lock left by a killed run is taken
 * over; the lock is gone when a run ends.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, lockOutput, STALE_MS } from '../../src/cohort/out-lock.js';
import { runCohort, type RunEvent } from '../../src/cohort/run.js';
import { makeCohort, type CohortFixture } from './cohort-fixtures.js';

let fx: CohortFixture;

beforeAll(async () => {
  fx = await makeCohort(await mkdtemp(join(tmpdir(), 'glas3d-lock-')), 2, 0);
}, 120_000);

const run = (out: string, onEvent?: (e: RunEvent) => void) =>
  runCohort({ cohort: fx.cohort, out, model: fx.model, baseline: 'zero', onEvent });

describe('one run per --out', () => {
  it('a second run while the first writes is refused, naming the first; the first finishes intact', async () => {
    const out = join(fx.dir, 'busy');
    let started!: () => void;
    const first = run(out, (e) => e.kind === 'subject' && started());
    await new Promise<void>((resolve) => (started = resolve));
    await expect(run(out)).rejects.toThrow(
      new RegExp(
        `--out .*busy is being written by another glas3d run \\(pid ${process.pid} on ${hostname()}, since .*\\): wait for it to finish or give another --out`,
      ),
    );
    const summary = await first;
    expect(summary.explained).toBe(2);
    expect(summary.regions[0].n).toBe(2);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('a lock left by a killed run (its pid gone) is taken over', async () => {
    const out = join(fx.dir, 'stale');
    await mkdir(out);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(
      join(out, LOCK_FILE),
      JSON.stringify({ pid: gone, host: hostname(), since: '2026-01-01T00:00:00Z' }),
    );
    const notes: string[] = [];
    const summary = await run(out, (e) => e.kind === 'note' && notes.push(e.text));
    expect(summary.explained).toBe(2);
    expect(notes).toContainEqual(
      expect.stringMatching(
        new RegExp(`stale: took over the lock of a glas3d run that is gone \\(pid ${gone} on `),
      ),
    );
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('Ctrl-C: one line on what is kept and how to go on, exit 130, no lock left; the rerun resumes', async () => {
    const out = join(fx.dir, 'interrupted');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/entry.ts', 'run', '--cohort', fx.cohort, '--out', out].concat([
        '--model',
        fx.model,
        '--baseline',
        'zero',
      ]),
      { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const code = await new Promise<number | null>((done) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // The first subject finished: interrupt during the second.
        if (/sub-01: P = /.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => done(c));
    });
    expect(code).toBe(130);
    expect(stderr).toMatch(
      /glas3d run: interrupted \(SIGINT\): [12] finished subject\(s\) in .*interrupted are kept; rerun the same command to go on\./,
    );
    expect(stderr).not.toMatch(/bug|Error:/);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    const again = await run(out);
    expect(again.skipped + again.explained).toBe(2);
    expect(again.skipped).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe('the lock itself', () => {
  const fresh = async (name: string) => {
    const dir = join(fx.dir, name);
    await mkdir(dir, { recursive: true });
    return dir;
  };

  it('of many runs starting together exactly one gets it, also when they take over a stale one', async () => {
    // Five rounds each: a race that lets two in would show in one of them.
    for (const [round, stale] of [false, true].flatMap((x) =>
      [0, 1, 2, 3, 4].map((k) => [k, x] as const),
    )) {
      const dir = await fresh(`together-${stale}-${round}`);
      if (stale)
        await writeFile(
          join(dir, LOCK_FILE),
          JSON.stringify({
            pid: spawnSync(process.execPath, ['-e', '0']).pid,
            host: hostname(),
            since: '',
          }),
        );
      const tries = await Promise.allSettled(Array.from({ length: 12 }, () => lockOutput(dir)));
      const won = tries.filter((t) => t.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const t of tries)
        if (t.status === 'rejected')
          expect(String(t.reason)).toMatch(/being written by another glas3d run/);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      expect(await readdir(dir)).toEqual([]); // no lock, no temporary left
    }
  });

  it('another host: refused while it is touched, taken over when untouched for STALE_MS; an empty lock likewise', async () => {
    const dir = await fresh('other-host');
    const lock = join(dir, LOCK_FILE);
    await writeFile(
      lock,
      JSON.stringify({ pid: 1, host: 'node12', since: '2026-01-01T00:00:00Z' }),
    );
    await expect(lockOutput(dir)).rejects.toThrow(/another glas3d run \(pid 1 on node12, since/);
    const old = new Date(Date.now() - STALE_MS - 60_000);
    await utimes(lock, old, old);
    await (await lockOutput(dir)).release();
    await writeFile(lock, '');
    await expect(lockOutput(dir)).rejects.toThrow(/holds a glas3d lock being written or damaged/);
    await utimes(lock, old, old);
    await (await lockOutput(dir)).release();
    expect(existsSync(lock)).toBe(false);
  });
});
