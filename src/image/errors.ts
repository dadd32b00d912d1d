import { Glas3dError } from '../errors.js';

/** An image file that cannot be read, or an image that the preprocessing cannot take. */
export class ImageError extends Glas3dError {}
