/**
 * Progress on stderr: a bar with ETA when stderr is a terminal, an occasional plain line
 * otherwise (logs stay readable), nothing when quiet.
 */
import type { CliIo } from './io.js';

export interface Progress {
  update: (done: number, total: number, label?: string) => void;
  done: () => void;
}

export function progressReporter(
  io: CliIo,
  label: string,
  isTty = Boolean(process.stderr.isTTY),
): Progress {
  let start = Date.now();
  let lastPrint = 0;
  let lastPercent = -1;
  return {
    update(done, total, current = label) {
      const now = Date.now();
      const fraction = total > 0 ? done / total : 1;
      const elapsed = (now - start) / 1000;
      const eta = fraction > 0 ? (elapsed * (1 - fraction)) / fraction : NaN;
      if (isTty) {
        if (now - lastPrint < 100 && done < total) return;
        lastPrint = now;
        const width = 30;
        const filled = Math.round(fraction * width);
        io.err(
          `\r${current} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ETA ${Number.isFinite(eta) ? eta.toFixed(0) : '?'} s `,
        );
        return;
      }
      const percent = Math.floor(fraction * 10) * 10;
      if (percent > lastPercent) {
        lastPercent = percent;
        io.err(`${current}: ${done}/${total} (${percent}%), ${elapsed.toFixed(0)} s\n`);
      }
    },
    /** End the current bar; the next update starts a new one. */
    done() {
      if (isTty && lastPrint > 0) io.err('\n');
      start = Date.now();
      lastPrint = 0;
      lastPercent = -1;
    },
  };
}
