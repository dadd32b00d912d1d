/**
 * Ground-truth boxes for the pointing game: PASCAL VOC XML (one file per photo, a folder of them)
 * or COCO JSON (one file for a whole set).
 *
 * All boxes are returned in edge coordinates of the original photo: pixel i covers [i, i + 1),
 * so a box is the rectangle [x0, x1) × [y0, y1). VOC's bndbox holds 1-based inclusive pixel
 * indices (xmin = 1 is the first column), i.e. [xmin − 1, xmax); COCO's bbox [x, y, w, h] is
 * already in edge coordinates, [x, x + w).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { ImageError } from './errors.js';

export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface BoxObject {
  /** Class name as the annotation gives it (VOC <name>, COCO category name). */
  readonly name: string;
  readonly box: Box;
  /** VOC <difficult>1</difficult>, COCO iscrowd. */
  readonly difficult: boolean;
}

export interface ImageBoxes {
  /** The photo's file name as the annotation names it (VOC <filename>, COCO file_name). */
  readonly file: string;
  /** The photo's size as annotated, when the annotation says. */
  readonly width?: number;
  readonly height?: number;
  readonly objects: BoxObject[];
  /** The annotation file; used in messages. */
  readonly source: string;
}

/** The text between <tag> and </tag> (first occurrence), trimmed, or undefined. */
function tagText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? decodeEntities(m[1].trim()) : undefined;
}

const decodeEntities = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

function numberIn(xml: string, tag: string, source: string, what: string): number {
  const text = tagText(xml, tag);
  const v = text === undefined ? NaN : Number(text);
  if (!Number.isFinite(v)) {
    throw new ImageError(`${source}: ${what} has no numeric <${tag}> (got ${text ?? 'nothing'}).`);
  }
  return v;
}

/**
 * One PASCAL VOC annotation. Sub-parts of a person (<part>: head, hand, foot) and action
 * labels are not objects and are ignored.
 */
export function parseVocXml(xml: string, source = 'VOC XML'): ImageBoxes {
  if (!/<annotation[\s>]/.test(xml)) {
    throw new ImageError(`${source} is not a PASCAL VOC annotation (no <annotation> element).`);
  }
  // A file cut short or an unclosed element would otherwise read as fewer objects (or none).
  if (!/<\/annotation>\s*$/.test(xml)) {
    throw new ImageError(
      `${source} is a malformed PASCAL VOC annotation: it does not end with </annotation> (a file cut short?).`,
    );
  }
  const opened = (xml.match(/<object[\s>]/g) ?? []).length;
  const closed = (xml.match(/<\/object>/g) ?? []).length;
  if (opened !== closed) {
    throw new ImageError(
      `${source} is a malformed PASCAL VOC annotation: ${opened} <object> element${opened === 1 ? '' : 's'} but ${closed} </object>.`,
    );
  }
  // Parts carry their own <name> and <bndbox>; take them out before reading the objects.
  const body = xml.replace(/<part(?:\s[^>]*)?>[\s\S]*?<\/part>/g, '');
  const size = tagText(body, 'size');
  const width = size === undefined ? undefined : numberIn(size, 'width', source, '<size>');
  const height = size === undefined ? undefined : numberIn(size, 'height', source, '<size>');
  const objects: BoxObject[] = [];
  const objectRe = /<object(?:\s[^>]*)?>([\s\S]*?)<\/object>/g;
  let m: RegExpExecArray | null;
  let index = 0;
  while ((m = objectRe.exec(body)) !== null) {
    index++;
    const o = m[1];
    const name = tagText(o, 'name');
    if (!name) throw new ImageError(`${source}: object ${index} has no <name>.`);
    const bb = tagText(o, 'bndbox');
    if (bb === undefined)
      throw new ImageError(`${source}: object ${index} (${name}) has no <bndbox>.`);
    const what = `object ${index} (${name})`;
    const xmin = numberIn(bb, 'xmin', source, what);
    const ymin = numberIn(bb, 'ymin', source, what);
    const xmax = numberIn(bb, 'xmax', source, what);
    const ymax = numberIn(bb, 'ymax', source, what);
    if (xmax < xmin || ymax < ymin) {
      throw new ImageError(
        `${source}: ${what} has an empty box (${xmin},${ymin})–(${xmax},${ymax}).`,
      );
    }
    objects.push({
      name,
      box: { x0: xmin - 1, y0: ymin - 1, x1: xmax, y1: ymax },
      difficult: tagText(o, 'difficult') === '1',
    });
  }
  const boxes: ImageBoxes = {
    file: tagText(body, 'filename') ?? `${basename(source, extname(source))}.jpg`,
    width,
    height,
    objects,
    source,
  };
  return width !== undefined && height !== undefined
    ? boxesOnPhoto(boxes, width, height, 'voc')
    : boxes;
}

/**
 * The boxes clipped to a photo of width × height (edge coordinates [0, width) × [0, height)).
 * A box that lies wholly outside the photo is an annotation error, refused like a reversed box;
 * one partly outside is clipped, which changes no hit (a point is always on the photo) and no
 * area (unionArea clips too), only the boxes recorded.
 */
export function boxesOnPhoto(
  boxes: ImageBoxes,
  width: number,
  height: number,
  format: 'voc' | 'coco' | 'edges' = 'edges',
): ImageBoxes {
  let changed = false;
  const objects = boxes.objects.map((o, i) => {
    const b = o.box;
    if (b.x0 >= width || b.y0 >= height || b.x1 <= 0 || b.y1 <= 0) {
      const what =
        format === 'voc'
          ? `object ${i + 1} (${o.name}) has the box (${b.x0 + 1},${b.y0 + 1})–(${b.x1},${b.y1})`
          : format === 'coco'
            ? `a box of ${boxes.file} (${o.name}), bbox [${b.x0}, ${b.y0}, ${b.x1 - b.x0}, ${b.y1 - b.y0}]`
            : `object ${i + 1} (${o.name}) of ${boxes.file} has the box [${b.x0}, ${b.x1}) × [${b.y0}, ${b.y1})`;
      throw new ImageError(
        `${boxes.source}: ${what}, which lies outside the ${width}×${height} photo: fix or remove the object.`,
      );
    }
    const clipped = {
      x0: Math.max(0, b.x0),
      y0: Math.max(0, b.y0),
      x1: Math.min(width, b.x1),
      y1: Math.min(height, b.y1),
    };
    if (clipped.x0 === b.x0 && clipped.y0 === b.y0 && clipped.x1 === b.x1 && clipped.y1 === b.y1)
      return o;
    changed = true;
    return { ...o, box: clipped };
  });
  return changed ? { ...boxes, objects } : boxes;
}

interface CocoJson {
  images?: { id: number | string; file_name: string; width?: number; height?: number }[];
  annotations?: {
    image_id: number | string;
    category_id: number | string;
    bbox: number[];
    iscrowd?: number;
  }[];
  categories?: { id: number | string; name: string }[];
}

/** A COCO detection file: every image it lists, with its boxes (category names as names). */
export function parseCocoJson(text: string, source = 'COCO JSON'): ImageBoxes[] {
  let coco: CocoJson;
  try {
    coco = JSON.parse(text) as CocoJson;
  } catch (e) {
    throw new ImageError(
      `${source} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!coco || !Array.isArray(coco.images) || !Array.isArray(coco.annotations)) {
    throw new ImageError(
      `${source} is not a COCO detection file: it needs "images", "annotations" and "categories" lists.`,
    );
  }
  const names = new Map<string, string>();
  for (const c of coco.categories ?? []) names.set(String(c.id), c.name);
  const byImage = new Map<string, BoxObject[]>();
  for (const img of coco.images) {
    if (typeof img.file_name !== 'string') {
      throw new ImageError(`${source}: image ${String(img.id)} has no file_name.`);
    }
    byImage.set(String(img.id), []);
  }
  coco.annotations.forEach((a, i) => {
    const list = byImage.get(String(a.image_id));
    if (!list) {
      throw new ImageError(
        `${source}: annotation ${i} names image ${String(a.image_id)}, which is not listed.`,
      );
    }
    const name = names.get(String(a.category_id));
    if (name === undefined) {
      throw new ImageError(
        `${source}: annotation ${i} has category ${String(a.category_id)}, which is not listed.`,
      );
    }
    const b = a.bbox;
    if (
      !Array.isArray(b) ||
      b.length !== 4 ||
      b.some((v) => !Number.isFinite(v)) ||
      b[2] < 0 ||
      b[3] < 0
    ) {
      throw new ImageError(
        `${source}: annotation ${i} has bbox ${JSON.stringify(b)}; COCO wants [x, y, width, height].`,
      );
    }
    list.push({
      name,
      box: { x0: b[0], y0: b[1], x1: b[0] + b[2], y1: b[1] + b[3] },
      difficult: a.iscrowd === 1,
    });
  });
  return coco.images.map((img) => {
    const boxes: ImageBoxes = {
      file: img.file_name,
      width: img.width,
      height: img.height,
      objects: byImage.get(String(img.id)) ?? [],
      source,
    };
    return typeof img.width === 'number' && typeof img.height === 'number'
      ? boxesOnPhoto(boxes, img.width, img.height, 'coco')
      : boxes;
  });
}

/**
 * Boxes from a folder of VOC XML files or one COCO JSON file, keyed by the photo's file name
 * (its base name: folders in the annotation are ignored).
 */
export async function loadBoxes(path: string): Promise<Map<string, ImageBoxes>> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new ImageError(`boxes ${path}: no such file or folder.`);
  const out = new Map<string, ImageBoxes>();
  if (info.isDirectory()) {
    const files = (await readdir(path)).filter((f) => f.toLowerCase().endsWith('.xml')).sort();
    if (files.length === 0) {
      throw new ImageError(`boxes folder ${path} holds no .xml files (PASCAL VOC annotations).`);
    }
    for (const f of files) {
      const file = join(path, f);
      const boxes = parseVocXml(await readFile(file, 'utf8'), file);
      out.set(basename(boxes.file), boxes);
    }
    return out;
  }
  const text = await readFile(path, 'utf8');
  for (const boxes of parseCocoJson(text, path)) out.set(basename(boxes.file), boxes);
  return out;
}
