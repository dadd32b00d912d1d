/**
 * The 2-D mode: photos through torchvision's ImageNet preprocessing (bit-exact Pillow resize),
 * and GLAS over an ONNX image classifier with masks applied before normalisation, as the paper.
 */
export { ImageError } from './errors.js';
export { decodeImage, type DecodedImage, type DecodeOptions } from './decode.js';
export { RESAMPLE_FILTERS, resizeLikePil, type ResampleFilter } from './resample.js';
export {
  checkPreprocessOptions,
  cropToOriginal,
  cropWindow,
  DEFAULT_CROP,
  DEFAULT_RESIZE,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizePixels,
  originalToCrop,
  preprocessDecoded,
  preprocessImage,
  resizedSize,
  roundHalfEven,
  toModelSample,
  type ChannelOrder,
  type CropGeometry,
  type Normalization,
  type PreprocessedImage,
  type PreprocessOptions,
  type Rgb,
  type Size,
} from './preprocess.js';
export {
  gaussianBlur,
  IMAGE_BASELINES,
  imageBaseline,
  type ImageBaselineKind,
} from './baselines.js';
export {
  DEFAULT_GRID,
  DEFAULT_IMAGE_SIGMA,
  explainImage,
  imageAxes,
  type ExplainImageOptions,
  type ImageExplanation,
  type ImagePointScore,
  type ImageRecursive,
  type SigmaUnits,
} from './explain-image.js';
