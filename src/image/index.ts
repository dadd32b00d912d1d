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
  preprocessedGrid,
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
  imageModelInput,
  type ExplainImageOptions,
  type ImageModelInput,
  type ImageExplanation,
  type ImagePointScore,
  type ImageRecursive,
  type SigmaUnits,
} from './explain-image.js';
export { encodeNpy, writeNpy } from './npy.js';
export { mapOnPhoto, renderOverlay, renderStrip, turbo, type OverlayOptions } from './render.js';
export { checkLabels, parseLabels, readLabels } from './labels.js';
export {
  loadBoxes,
  parseCocoJson,
  parseVocXml,
  type Box,
  type BoxObject,
  type ImageBoxes,
} from './boxes.js';
export {
  mapMaximum,
  parseClassMap,
  pointInBoxes,
  pointingScores,
  pointingTargets,
  readClassMap,
  scorePoint,
  unionArea,
  type ClassMap,
  type MapMaximumOptions,
  type MapPoint,
  type PointingScore,
  type PointingTarget,
} from './pointing.js';
export {
  classResponses,
  fuseClass,
  type ClassResponseOptions,
  type ClassResponses,
  type FuseClassOptions,
} from './class-responses.js';
export { RiseMasks, runRise, type RiseInput, type RiseOptions, type RiseResult } from './rise.js';
export {
  IMAGE_EXTENSIONS,
  pointingPhotos,
  POINTING_METHODS,
  runPointingGame,
  type PointingGameOptions,
  type PointingGameResult,
  type PointingMethod,
  type PointingSkip,
  type PointingTrial,
} from './pointing-game.js';
export {
  IMAGE_PRESET_NAMES,
  IMAGE_PRESETS,
  type ImagePreset,
  type ImagePresetName,
} from './presets.js';
