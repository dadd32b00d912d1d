/**
 * Bringing a subject onto the model's input grid. glas3d does not register scans: a subject
 * must already be in template (MNI) space. On the grid it is used as is; on another grid in
 * the same world space it is resampled through its affine; a scan that is plainly not in
 * template space is refused with a message saying that registration is needed.
 */
import { Glas3dError, OptionError } from '../errors.js';
import {
  MNI_GRIDS,
  checkOneVolume,
  foregroundMask,
  gaussianSmooth,
  positionUnknown,
  positionUnknownText,
  resample,
  sameGrid,
  type Grid,
  type Volume,
} from '../volume/index.js';

/** NIFTI_XFORM_MNI_152: the space of the standard grids, written into the run's maps. */
const XFORM_MNI_152 = 4;

/** A subject that cannot be explained; the run records it in errors.tsv and goes on. */
export class SubjectError extends Glas3dError {}

/**
 * The model's grid: `--grid`'s geometry when given (dims, affine and `xformCode`, never its
 * voxels), else the standard grid with the
 * model's dims, in MNI-152 space (xformCode 4): the space the run's maps are written in.
 */
export function modelGrid(
  gridDims: readonly number[],
  reference?: Grid,
  names: { grid?: string; model?: string } = {},
): Grid {
  if (reference) {
    if (reference.dims.some((d, i) => d !== gridDims[i])) {
      const dims = gridDims.join('×');
      throw new OptionError(
        `--grid ${names.grid ?? ''} is ${reference.dims.join('×')} but the model ${names.model ?? ''} takes ${dims}: give a --grid volume on the model's ${dims} grid.`.replace(
          / {2}/g,
          ' ',
        ),
      );
    }
    if (positionUnknown(reference))
      throw new OptionError(
        `--grid ${positionUnknownText('the reference')} Give a reference whose header places it.`,
      );
    // Only the geometry: a Volume given here would carry its voxels (and its source header) into
    // run.json, every sidecar and the fingerprint, where only where the maps lie counts.
    return {
      dims: [...reference.dims] as Grid['dims'],
      affine: reference.affine.map((row) => [...row]),
      ...(reference.xformCode !== undefined && { xformCode: reference.xformCode }),
    };
  }
  const known = Object.values(MNI_GRIDS).find((g) => g.dims.every((d, i) => d === gridDims[i]));
  if (!known) {
    throw new OptionError(
      `the model takes a ${gridDims.join('×')} volume, not one of the standard MNI grids (${Object.values(
        MNI_GRIDS,
      )
        .map((g) => g.dims.join('×'))
        .join(', ')}); give --grid REF.nii.gz, a volume on the model's grid.`,
    );
  }
  return { ...known, xformCode: XFORM_MNI_152 };
}

/** Below this smoothed correlation with the template a scan is taken as not normalized. */
export const MIN_TEMPLATE_CORRELATION = 0.85;
/** A scan must cover at least this fraction of the template's brain. */
export const MIN_TEMPLATE_COVERAGE = 0.9;
const CHECK_SMOOTHING_MM = 8;

export interface TemplateReference {
  /** The template on the model grid. */
  template: Volume;
  brain: Uint8Array;
  smoothed: Float32Array;
}

export function templateReference(template: Volume, grid: Grid): TemplateReference {
  const onGrid = sameGrid(template, grid) ? template : resample(template, grid, 'linear');
  return {
    template: onGrid,
    brain: foregroundMask(onGrid),
    smoothed: gaussianSmooth(onGrid, CHECK_SMOOTHING_MM).data,
  };
}

export interface PreparedSubject {
  /** On the grid, in its space (the grid's `xformCode`, when it has one). */
  volume: Volume;
  resampled: boolean;
  /** Set when the subject was resampled: how well it matches the template. */
  templateCorrelation?: number;
  templateCoverage?: number;
}

/**
 * Put a subject on the model grid (intensities as stored: the model's normalization is applied
 * by `explain`, after the baseline is built). `reference` is needed to check subjects that are
 * not already on the grid.
 */
export function prepareSubject(
  subject: Volume & { source?: { volumes: number } },
  name: string,
  grid: Grid,
  reference: TemplateReference | undefined,
  options: { checkSpace?: boolean } = {},
): PreparedSubject {
  // readVolume gives a 4-D file's first volume; a subject is one scan, so say so instead.
  checkOneVolume(subject, name, (message) => new SubjectError(message));
  if (subject.dims.filter((d) => d > 1).length < 3) {
    throw new SubjectError(
      `${name}: a ${subject.dims.join('×')} image is not a 3-D volume (a single slice?); glas3d needs whole-brain 3-D scans.`,
    );
  }
  const first = subject.data[0];
  if (subject.data.every((v) => v === first)) {
    throw new SubjectError(
      `${name}: every voxel is ${first}: an empty (constant) image has nothing to explain; check the file (a failed conversion or registration?).`,
    );
  }
  // Placed by its voxel size alone, a scan lands anywhere: the template check would blame
  // registration (and --no-space-check would resample it there), so the header is named.
  if (positionUnknown(subject))
    throw new SubjectError(`${positionUnknownText(name)} It cannot be put on the model grid.`);
  // A scan already on the grid is checked too: the grid's size says nothing of what it holds
  // (a native-space scan cropped to 91×109×91, a file from another template).
  const resampled = !sameGrid(subject, grid);
  const onGrid: Volume = resampled
    ? resample(subject, grid, 'linear')
    : { dims: subject.dims, affine: subject.affine, data: subject.data };
  // The maps are written in the grid's space (MNI for the standard grids), whatever code the
  // subject's header had.
  const xformCode = grid.xformCode ?? (resampled ? undefined : subject.xformCode);
  if (xformCode !== undefined) onGrid.xformCode = xformCode;
  let templateCorrelation: number | undefined;
  let templateCoverage: number | undefined;
  if (reference && options.checkSpace !== false) {
    ({ correlation: templateCorrelation, coverage: templateCoverage } = templateMatch(
      subject,
      resampled,
      onGrid,
      grid,
      reference,
    ));
    if (templateCoverage < MIN_TEMPLATE_COVERAGE) {
      throw new SubjectError(
        `${name}: the scan covers only ${(100 * templateCoverage).toFixed(0)}% of the template brain on the model grid; it is cropped or not in template (MNI) space. Register it to the template first (e.g. FSL FLIRT/FNIRT, ANTs, SPM normalise).`,
      );
    }
    if (templateCorrelation < MIN_TEMPLATE_CORRELATION) {
      throw new SubjectError(
        `${name}: the scan does not line up with the template (smoothed correlation ${templateCorrelation.toFixed(2)} < ${MIN_TEMPLATE_CORRELATION}): it looks like a scan in native space, or one brain-extracted where the template is not (or the reverse: the bundled Colin27 is brain-extracted; a --template must match the scans). Register it to the template (MNI) first (e.g. FSL FLIRT/FNIRT, ANTs, SPM normalise), or pass --no-space-check if you are sure it is normalized.`,
      );
    }
  }
  return {
    volume: onGrid,
    resampled,
    templateCorrelation,
    templateCoverage,
  };
}

/** Correlation of the smoothed subject and template over the template's brain, and coverage. */
function templateMatch(
  subject: Volume,
  resampled: boolean,
  onGrid: Volume,
  grid: Grid,
  reference: TemplateReference,
): { correlation: number; coverage: number } {
  // Coverage: template-brain voxels that fall inside the subject's field of view (all of them
  // for a subject on the grid: no resampling needed to say so).
  const inside = !resampled
    ? new Float32Array(onGrid.data.length).fill(1)
    : resample({ ...subject, data: new Float32Array(subject.data.length).fill(1) }, grid, 'nearest')
        .data;
  const smoothed = gaussianSmooth(onGrid, CHECK_SMOOTHING_MM).data;
  const t = reference.smoothed;
  let n = 0;
  let covered = 0;
  let sa = 0;
  let sb = 0;
  for (let o = 0; o < t.length; o++) {
    if (!reference.brain[o]) continue;
    n++;
    covered += inside[o];
    sa += smoothed[o];
    sb += t[o];
  }
  const ma = sa / n;
  const mb = sb / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let o = 0; o < t.length; o++) {
    if (!reference.brain[o]) continue;
    const x = smoothed[o] - ma;
    const y = t[o] - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  const correlation = da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
  return { correlation, coverage: n > 0 ? covered / n : 0 };
}
