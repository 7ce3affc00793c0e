/**
 * The import's progress on a terminal (stderr): a bar, resources done / total, rate and ETA,
 * redrawn at most every 200 ms. Not drawn when stderr is not a TTY.
 */
import type { ImportProgress } from './importFiles.ts';

export interface ImportProgressBar {
  update(progress: ImportProgress): void;
  done(): void;
}

export function importProgressBar(stream: NodeJS.WriteStream = process.stderr): ImportProgressBar {
  if (!stream.isTTY) return { update() {}, done() {} };
  const started = performance.now();
  let last = 0;
  let drawn = false;
  return {
    update({ done, total }) {
      const now = performance.now();
      if (now - last < 200 && done < total) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const eta = rate > 0 ? (total - done) / rate : 0;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
      stream.write(
        `\r[${bar}] ${done}/${total} resources  ${Math.round(rate)}/s  ETA ${formatSeconds(eta)}   `,
      );
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
    },
  };
}

function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
