/**
 * NiiVue 0.69 labels the colour bar's ticks with six decimals (`toFixed(6)`), so a map whose
 * maximum is tiny (a probability change of 1e-11) reads "0 · 0 · 0". Its tick code is private,
 * hence this wrapper: the bar is drawn for the range scaled into [1, 10) (positions do not
 * change) and each label is scaled back and written like the readout ("4.3e-11").
 */
import type { Niivue } from '@niivue/niivue';
import { fmt } from './regions.js';

type TextBelow = (xy: number[], str: string, ...rest: unknown[]) => void;
type ColorbarCore = (
  layer: number,
  leftTopWidthHeight: number[],
  isNegativeColor: boolean,
  min: number,
  max: number,
  isAlphaThreshold: boolean,
) => void;

/** Make the colour bar's labels readable at any scale; `labels` gets the last bar's labels. */
export function readableColorbarTicks(nv: Niivue, labels: string[]): void {
  const target = nv as unknown as { drawColorbarCore: ColorbarCore; drawTextBelow: TextBelow };
  const core = target.drawColorbarCore.bind(nv) as ColorbarCore;
  const textBelow = target.drawTextBelow.bind(nv) as TextBelow;
  target.drawColorbarCore = (layer, ltwh, negative, min, max, alpha) => {
    const span = Math.max(Math.abs(min), Math.abs(max));
    const k = span > 0 && span < 1e-3 ? 10 ** -Math.floor(Math.log10(span)) : 1;
    labels.length = 0;
    target.drawTextBelow = (xy, str, ...rest) => {
      const text = k === 1 ? str : fmt(Number(str) / k, 2);
      labels.push(text);
      textBelow(xy, text, ...rest);
    };
    try {
      core(layer, ltwh, negative, min * k, max * k, alpha);
    } finally {
      target.drawTextBelow = textBelow;
    }
  };
}
