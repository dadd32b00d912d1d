/**
 * How 2D mode loads an image classifier: the layout of a model with symbolic dims (a photo
 * always has 3 channels, which tells more than the loader can know), a clear refusal of a model
 * that does not take 3 channels, and, when the preprocessing gives photos of different sizes (no
 * fixed crop) and the model takes any size, one load per photo size.
 */
import { readFile } from 'node:fs/promises';
import { ModelError } from '../errors.js';
import {
  loadClassifiers,
  type Classifiers,
  type ClassifiersOptions,
  type Layout,
  type OnnxClassifier,
} from '../model/index.js';
import { ioFromProto, isSymbolic, type IoDim } from '../model/model-io.js';
import { preprocessedGrid, type PreprocessOptions, type Size } from './preprocess.js';

export const IMAGE_LAYOUTS: readonly Layout[] = ['NCHW', 'NHWC'];

export interface ImageModelPlan {
  /** The layout to load with: the one given, or the only one a 3-channel photo fits. */
  readonly layout?: Layout;
  /**
   * The model's sample has symbolic dims and the preprocessing gives no fixed size: the model is
   * loaded for each photo size (its symbolic dims filled with that size).
   */
  readonly perSize: boolean;
}

/** The model's declared input dims, or undefined when they cannot be read here. */
async function declaredInput(model: string | Uint8Array): Promise<IoDim[] | undefined> {
  try {
    const io = ioFromProto(typeof model === 'string' ? await readFile(model) : model);
    return io.inputs.length === 1 ? io.inputs[0].shape : undefined;
  } catch {
    return undefined; // the loader says what is wrong with the file
  }
}

const shapeText = (shape: readonly IoDim[]) => `[${shape.join(', ')}]`;

/** The refusal of an image model whose channel axis holds `channels` ≠ 3. */
export function channelsError(
  model: string,
  shape: readonly IoDim[],
  channels: number,
  layout?: Layout,
): ModelError {
  // A --layout that reads the wrong end: the other end holds 3 (or may).
  const other = layout === 'NCHW' ? shape[3] : layout === 'NHWC' ? shape[1] : undefined;
  const fix = layout === 'NCHW' ? 'NHWC' : 'NCHW';
  const advice =
    other !== undefined && (isSymbolic(other) || other === 3)
      ? `with --layout ${layout} its channels are read from the wrong axis; the input fits ${fix}: use --layout ${fix}, or leave --layout out`
      : channels === 1
      ? 'export a model that takes RGB, e.g. with the grey conversion inside it (x.mean(dim=1, keepdim=True) in front of the grey network; glas3d gives a grey photo 3 equal channels)'
      : 'export a model that takes 3 channels (RGB)';
  return new ModelError(
    `model ${model} takes images with ${channels} channel${channels === 1 ? '' : 's'} (input ${shapeText(shape)}), but 2D mode feeds RGB photos (3 channels): ${advice}.`,
  );
}

/**
 * What loading `model` for photos needs beyond the usual: see ImageModelPlan. A grey (1-channel)
 * model is refused here with the reason; models the loader refuses anyway pass unchanged.
 */
export async function imageModelPlan(
  model: string | Uint8Array,
  preprocess: PreprocessOptions = {},
  layout?: Layout,
  modelName = typeof model === 'string' ? model : 'in-memory model',
): Promise<ImageModelPlan> {
  const shape = await declaredInput(model);
  const sample = shape?.slice(1);
  if (!shape || sample?.length !== 3) return { layout, perSize: false };
  const ends = [sample[0], sample[2]];
  const fixedTo = (d: IoDim, n: number) => !isSymbolic(d) && d === n;
  // The channel end: the layout given, or the end fixed to 3, or the only end fixed to 1 (grey).
  const channelEnd =
    layout !== undefined
      ? ends[layout === 'NCHW' ? 0 : 1]
      : ends.filter((d) => fixedTo(d, 3)).length === 1
        ? 3
        : ends.filter((d) => fixedTo(d, 1)).length === 1
          ? 1
          : undefined;
  if (channelEnd !== undefined && !isSymbolic(channelEnd) && channelEnd !== 3)
    throw channelsError(modelName, shape, channelEnd, layout);
  const grid = preprocessedGrid(preprocess);
  const perSize = sample.some(isSymbolic) && grid === undefined;
  if (layout !== undefined || !sample.some(isSymbolic) || channelEnd === 3)
    return { layout, perSize };
  // Neither end is fixed to 3: a layout fits when its channel end may be 3 and its grid dims may
  // be the crop's (any size without a fixed crop).
  const fits = (channelsFirst: boolean) => {
    const c = channelsFirst ? sample[0] : sample[2];
    const [h, w] = channelsFirst ? [sample[1], sample[2]] : [sample[0], sample[1]];
    const dimFits = (d: IoDim, n: number | undefined) =>
      isSymbolic(d) || n === undefined || d === n;
    return (isSymbolic(c) || c === 3) && dimFits(h, grid?.dims[1]) && dimFits(w, grid?.dims[0]);
  };
  const [first, last] = [fits(true), fits(false)];
  return { layout: first !== last ? (first ? 'NCHW' : 'NHWC') : undefined, perSize };
}

/** Throw unless a loaded classifier takes images of 3 channels (NCHW or NHWC). */
export function checkImageClassifier(c: OnnxClassifier, modelName = c.modelName): void {
  const axes = c.gridAxes;
  if (axes?.tensorAxis.length !== 2) {
    throw new ModelError(
      `${modelName}: the model input [${c.inputShape.join(', ')}] is not an image (expected NCHW or NHWC with 3 channels).`,
    );
  }
  if (axes.channels !== 3) throw channelsError(modelName, ['N', ...c.inputShape], axes.channels);
}

/**
 * The loaded model for each photo size: one load for every photo when the plan is not per size
 * (`load` gets no size), else a load per size (`load` gets it), the last one kept for the next
 * photo of that size (photos of one camera come in runs) and disposed when the size changes.
 */
export class ImageModels<T extends { dispose(): Promise<void> }> {
  private current: { key: string; value: T } | undefined;

  constructor(
    private readonly perSize: boolean,
    private readonly load: (size: Size | undefined) => Promise<T>,
  ) {}

  /** How many times a model was loaded. */
  loads = 0;

  async for(size: Size): Promise<T> {
    const key = this.perSize ? `${size.width}×${size.height}` : '';
    if (this.current?.key === key) return this.current.value;
    const previous = this.current;
    this.current = undefined;
    await previous?.value.dispose();
    const value = await this.load(this.perSize ? size : undefined);
    this.loads++;
    this.current = { key, value };
    return value;
  }

  async dispose(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.value.dispose();
  }
}

/**
 * loadClassifiers for photos: the plan's layout, and one load for every photo or one per photo
 * size (see ImageModels); each load checks that the model takes 3-channel images, then runs
 * `options.check`. `onNotes` gets the notes of the first load, which also fixes the device 'auto'
 * took for the later ones.
 */
export async function loadImageClassifiers(
  model: string,
  preprocess: PreprocessOptions,
  options: ClassifiersOptions,
  onNotes: (notes: string[]) => void,
): Promise<{ models: ImageModels<Classifiers>; plan: ImageModelPlan }> {
  const plan = await imageModelPlan(model, preprocess, options.layout);
  let first = true;
  // 'auto' picks a device once: later loads (one per photo size) go straight to it.
  let device = options.device;
  const models = new ImageModels(plan.perSize, async (size) => {
    const loaded = await loadClassifiers(model, {
      ...options,
      device,
      dataGrid: size
        ? { dims: [size.width, size.height], channels: 3 }
        : preprocessedGrid(preprocess),
      layout: plan.layout,
      check: (c) => {
        checkImageClassifier(c, model);
        options.check?.(c);
      },
    });
    if (first) onNotes(loaded.notes);
    first = false;
    device = loaded.classifier.device;
    return loaded;
  });
  // A model for every photo is loaded (and checked) before the first photo.
  if (!plan.perSize) await models.for({ width: 0, height: 0 });
  return { models, plan };
}
