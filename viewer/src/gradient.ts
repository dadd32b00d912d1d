/**
 * NiiVue 0.69 rebuilds a 3-D gradient texture of the background on every layer update
 * (`updateGLVolume`): a blur pass and a Sobel pass over every slice, each slice followed by a
 * synchronous framebuffer check. Only the 3-D volume render reads that texture, and the viewer
 * shows 2-D slices alone (`multiplanarShowRender: NEVER`). In software WebGL (a browser without
 * a GPU, headless Chromium) the two passes cost hundreds of milliseconds per update, so they are
 * skipped: NiiVue offers no option for it, hence this guard on its WebGL context.
 */
import type { Niivue } from '@niivue/niivue';

/** Make the draws (and framebuffer checks) of NiiVue's gradient programs no-ops. Call after
 *  `attachTo`, when the programs exist. */
export function skipGradientPasses(nv: Niivue): void {
  const gl = nv.gl;
  const gradientPrograms = new Set(
    [
      nv.blurShader,
      nv.gradientPrePassShader,
      nv.sobelFirstOrderShader,
      nv.sobelSecondOrderShader,
    ].map((s) => s?.program),
  );
  let skipping = false;
  const useProgram = gl.useProgram.bind(gl);
  const drawArrays = gl.drawArrays.bind(gl);
  const checkFramebufferStatus = gl.checkFramebufferStatus.bind(gl);
  gl.useProgram = (program) => {
    skipping = program !== null && gradientPrograms.has(program);
    useProgram(program);
  };
  gl.drawArrays = (mode, first, count) => {
    if (!skipping) drawArrays(mode, first, count);
  };
  gl.checkFramebufferStatus = (target) =>
    skipping ? gl.FRAMEBUFFER_COMPLETE : checkFramebufferStatus(target);
}
