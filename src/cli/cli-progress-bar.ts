import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, detail?: string): void;
  stop(): void;
}

const SILENT: Progress = Object.freeze({ update() {}, stop() {} });

/** A bar on stderr while stdout is a terminal; otherwise nothing at all. */
export function startProgress(enabled: boolean, label: string, total: number, unit: string): Progress {
  if (!enabled) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} {detail}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  return {
    update: (value, detail = '') => bar.update(Math.min(value, total), { detail }),
    stop: () => bar.stop(),
  };
}
