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

/**
 * Make the colour bar's labels readable at any scale; `labels` gets the last bar's labels.
 * `displayScale` gives the bar's layer's display units per unit of the map (the page may show a
 * tiny map scaled up, see main.ts): the labels are written in the map's own units.
 */
export function readableColorbarTicks(
  nv: Niivue,
  labels: string[],
  displayScale: () => number = () => 1,
): void {
  const target = nv as unknown as { drawColorbarCore: ColorbarCore; drawTextBelow: TextBelow };
  const core = target.drawColorbarCore.bind(nv) as ColorbarCore;
  const textBelow = target.drawTextBelow.bind(nv) as TextBelow;
  target.drawColorbarCore = (layer, ltwh, negative, shownMin, shownMax, alpha) => {
    const unit = displayScale();
    const min = shownMin / unit;
    const max = shownMax / unit;
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
