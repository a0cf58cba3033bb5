/**
 * The soak inside `npm run bench`: bench/soak.ts as its own process (its children must not share
 * the bench's event loop), for `minutes` (10 by default; `--soak-minutes 0` leaves it out).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goalAtMost, type ScenarioResult } from './support/scenario-result.js';

interface SoakSummary {
  minutes: number;
  loadAtStart: number;
  figures: Record<string, number | string>;
  met: boolean;
  worstHeapSlopeMiBPerHour: number;
}

export async function run(minutes: number): Promise<ScenarioResult> {
  const script = join(import.meta.dirname, 'soak.ts');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--minutes', String(minutes)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: (minutes + 5) * 60_000,
  }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  const lines = stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1] ?? '{}') as SoakSummary;
  const table = lines.slice(0, -1).join('\n').trim();
  const f = summary.figures;
  return {
    id: 'soak',
    title: `Soak: seed 000 for ${minutes} minutes`,
    comparisons: [
      {
        measure: 'worst heap slope after warm-up, any process',
        unit: 'MiB/h',
        sluice: summary.worstHeapSlopeMiBPerHour,
        goal: goalAtMost(summary.worstHeapSlopeMiBPerHour, 1, '< 1 MiB/h'),
      },
      {
        measure: 'lost writes + lost updates + surfaced BUSY',
        unit: 'count',
        sluice: Number(f.lostWrites) + Number(f.lostUpdates) + Number(f.surfacedBusy),
        goal: goalAtMost(Number(f.lostWrites) + Number(f.lostUpdates) + Number(f.surfacedBusy), 0, '0'),
      },
      { measure: 'write latency mean / p99 over the run', unit: 'ms', sluice: Number(f.meanLatencyMs), raw: Number(f.p99LatencyMs) },
    ],
    notes: [`Load ${summary.loadAtStart} at start; integrity ${f.integrity}; ${f.writes} writes.`, table],
  };
}
