/**
 * Synthetic subjects on the real template (Colin27 + AAL on the MNI 2 mm grid), in memory:
 * the planted regions lose what was asked, the other regions change no more than age-like
 * atrophy does, the vacated tissue is CSF-dark, and the anatomy varies within its ranges.
 * Volumes are measured by warping the AAL labels with each subject's own deformation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  atrophiedVolumes,
  atrophyRegions,
  DEFAULT_ATROPHY_REGIONS,
  DEFAULT_SYNTH_PARAMETERS,
  loadSynthTemplate,
  renderSubject,
  synthesizeSubject,
  warpLabels,
  type AtrophyRegions,
  type SynthSubject,
  type SynthTemplate,
} from '../../src/synth/index.js';

const params = DEFAULT_SYNTH_PARAMETERS;
const SEED = 11;
const N = 3;

let template: SynthTemplate;
let regions: AtrophyRegions;
let planted: Set<number>;
const subjects: SynthSubject[] = [];
/** Per subject: region index → fractional volume change (−0.2: lost 20%). */
const changes: Map<number, number>[] = [];

beforeAll(async () => {
  template = await loadSynthTemplate('mni2mm');
  regions = atrophyRegions(template, DEFAULT_ATROPHY_REGIONS, params);
  planted = new Set(regions.planted.map((r) => r.index));
  for (const group of ['AD', 'NC'] as const) {
    for (let number = 1; number <= N; number++) {
      const subject = await synthesizeSubject({ seed: SEED, group, number });
      subjects.push(subject);
      const volumes = atrophiedVolumes(template.atlas.labels, subject.warp);
      changes.push(
        new Map(
          template.atlas.regions.map((r) => [r.index, (volumes.get(r.index) ?? 0) / r.voxels - 1]),
        ),
      );
    }
  }
});

const byGroup = (group: 'AD' | 'NC') =>
  subjects.map((s, i) => ({ s, c: changes[i] })).filter((x) => x.s.plan.group === group);

describe('atrophy', () => {
  it('AD subjects lose the asked fraction of every planted region (±3 points)', () => {
    for (const { s, c } of byGroup('AD')) {
      const asked = s.atrophy.filter((a) => a.kind === 'planted');
      expect(asked.map((a) => a.index).sort()).toEqual([...planted].sort());
      for (const a of asked) {
        expect(a.targetLoss).toBeGreaterThanOrEqual(0.1);
        expect(a.targetLoss).toBeLessThanOrEqual(0.35);
        expect(Math.abs(a.achievedLoss - a.targetLoss)).toBeLessThan(0.005);
        // Measured independently: AAL labels warped by nearest neighbour (jittered points).
        expect(Math.abs(-c.get(a.index)! - a.targetLoss)).toBeLessThan(0.03);
      }
    }
  });

  it('age-like atrophy: 2–4 non-planted regions, 1–5%, in both groups', () => {
    for (const [i, s] of subjects.entries()) {
      const age = s.atrophy.filter((a) => a.kind === 'age');
      expect(age.length).toBeGreaterThanOrEqual(2);
      expect(age.length).toBeLessThanOrEqual(4);
      for (const a of age) {
        expect(planted.has(a.index)).toBe(false);
        expect(a.targetLoss).toBeGreaterThanOrEqual(0.01);
        expect(a.targetLoss).toBeLessThanOrEqual(0.05);
        expect(Math.abs(-changes[i].get(a.index)! - a.targetLoss)).toBeLessThan(0.015);
      }
      if (s.plan.group === 'NC') expect(age.length).toBe(s.atrophy.length);
    }
  });

  it('non-planted regions change in AD no more than age-like atrophy changes them', () => {
    const meanAbs = (group: 'AD' | 'NC') => {
      const values = byGroup(group).flatMap(({ c }) =>
        [...c].filter(([index]) => !planted.has(index)).map(([, d]) => Math.abs(d)),
      );
      return values.reduce((s, v) => s + v, 0) / values.length;
    };
    // Spillover: the neighbours of planted regions (Fusiform, Occipital_Inf, Temporal_Mid,
    // ParaHippocampal, Thalamus) follow the shrinking tissue and change by 1–3.5%; measured
    // on 5 + 5 subjects, mean |change| of the non-planted regions 0.28% in AD, 0.10% in NC.
    expect(meanAbs('AD') - meanAbs('NC')).toBeLessThan(0.003);
    for (const { s, c } of byGroup('AD')) {
      const age = new Set(s.atrophy.filter((a) => a.kind === 'age').map((a) => a.index));
      for (const [index, d] of c) {
        if (planted.has(index) || age.has(index)) continue;
        expect(Math.abs(d)).toBeLessThanOrEqual(params.ageLoss[1]);
      }
    }
  });

  it('regions out of every contraction’s reach keep their volume exactly', () => {
    for (const [i, s] of subjects.entries()) {
      const shapes = s.warp.contractions.map((c) => c.shape);
      for (const r of template.atlas.regions) {
        const box = regions.agePool.find((x) => x.index === r.index);
        if (!box) continue;
        const touched = shapes.some((sh) =>
          [0, 1, 2].every((d) => {
            const a = voxelMm(box.voxelMin, d);
            const b = voxelMm(box.voxelMax, d);
            return Math.max(a, b) + 2 >= sh.supportMin[d] && Math.min(a, b) - 2 <= sh.supportMax[d];
          }),
        );
        if (!touched) expect(changes[i].get(r.index)).toBe(0);
      }
    }
  });

  it('vacated tissue turns CSF-dark; kept tissue keeps its intensity', () => {
    for (const { s } of byGroup('AD')) {
      const full = warpLabels(template.atlas.labels, s.warp, 'full');
      const anatomy = warpLabels(template.atlas.labels, s.warp, 'anatomy');
      let vacated = 0;
      let vacatedSum = 0;
      let kept = 0;
      let keptSum = 0;
      for (let o = 0; o < full.data.length; o++) {
        if (!planted.has(anatomy.data[o])) continue;
        if (full.data[o] === 0) {
          vacated++;
          vacatedSum += s.volume.data[o];
        } else if (full.data[o] === anatomy.data[o]) {
          kept++;
          keptSum += s.volume.data[o];
        }
      }
      const wm = params.outputWhiteMatter;
      expect(vacated).toBeGreaterThan(500);
      // CSF at 15–25% of white matter, softened at the rim's edges and by 2 mm voxels.
      expect(vacatedSum / vacated).toBeLessThan(0.45 * wm);
      expect(keptSum / kept).toBeGreaterThan(0.6 * wm);
    }
  });
});

function voxelMm(ijk: readonly number[], axis: number): number {
  const a = template.grid.affine;
  return a[axis][0] * ijk[0] + a[axis][1] * ijk[1] + a[axis][2] * ijk[2] + a[axis][3];
}

describe('anatomy and intensity', () => {
  it('draws scale, displacement, bias, noise, gain and CSF level within their ranges', () => {
    for (const s of subjects) {
      const { anatomy } = s.plan;
      expect(anatomy.scale).toBeGreaterThanOrEqual(params.scale[0]);
      expect(anatomy.scale).toBeLessThanOrEqual(params.scale[1]);
      expect(anatomy.maxDisplacementMm).toBeGreaterThanOrEqual(params.maxDisplacementMm[0]);
      expect(anatomy.maxDisplacementMm).toBeLessThanOrEqual(params.maxDisplacementMm[1]);
      // The displacement field reaches its maximum inside the brain and nowhere exceeds it there.
      const { ux, uy, uz } = s.warp.anatomy;
      let max = 0;
      for (let o = 0; o < ux.length; o++) {
        if (template.brain.data[o] > 0) max = Math.max(max, Math.hypot(ux[o], uy[o], uz[o]));
      }
      expect(max).toBeCloseTo(anatomy.maxDisplacementMm, 3);
      expect(s.plan.bias.amplitude).toBeLessThanOrEqual(params.biasAmplitude[1]);
      expect(s.plan.noiseFraction).toBeLessThanOrEqual(params.noise[1]);
      expect(s.plan.gain).toBeGreaterThanOrEqual(params.gain[0]);
      expect(s.plan.csfFraction).toBeLessThanOrEqual(params.csfLevel[1]);
    }
  });

  it('images are finite, non-negative, white matter near 1000 and zero outside the brain', () => {
    let templateBrain = 0;
    for (const w of template.brain.data) if (w > 0) templateBrain++;
    const [nx, ny, nz] = template.grid.dims;
    for (const s of subjects) {
      const v = s.volume.data;
      let bad = 0;
      let nonzero = 0;
      let border = 0;
      const brain: number[] = [];
      let o = 0;
      for (let k = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++, o++) {
            if (!(Number.isFinite(v[o]) && v[o] >= 0)) bad++;
            if (v[o] > 0) nonzero++;
            // The grid's floor (z = −72 mm) may cut a scaled-up cerebellum, as in MNI152.
            const edge = i < 3 || j < 3 || i >= nx - 3 || j >= ny - 3 || k >= nz - 3;
            if (edge && v[o] !== 0) border++;
            if (template.brain.data[o] > 0.99) brain.push(v[o]);
          }
        }
      }
      expect(bad).toBe(0);
      expect(border).toBe(0);
      // The brain (background exactly 0) has the template's size times the scale cubed.
      const ratio = nonzero / (templateBrain * s.plan.anatomy.scale ** 3);
      expect(ratio).toBeGreaterThan(0.95);
      expect(ratio).toBeLessThan(1.08);
      brain.sort((a, b) => a - b);
      const p90 = brain[Math.floor(0.9 * brain.length)];
      expect(p90).toBeGreaterThan(850);
      expect(p90).toBeLessThan(1250);
      expect(brain[brain.length - 1]).toBeLessThan(2000);
    }
  });

  it('renders the same image again from the same plan', () => {
    const s = subjects[0];
    const again = renderSubject(template, s.plan, params);
    expect(Buffer.from(again.volume.data.buffer).equals(Buffer.from(s.volume.data.buffer))).toBe(
      true,
    );
  });
});
