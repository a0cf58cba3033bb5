/**
 * `npm run soak -- --minutes M [--out FILE] [--snapshots DIR]`: seed 000's scenario (two ingesters, two work()
 * schedulers, a smoke checker, a Python writer, one SQLite file) for M minutes. Every 10 s each
 * process reports its RSS, heap, open handles and ack p99, and the WAL's size is read; at the end
 * the slope of each per hour (after the first fifth, the warm-up) and the scenario's zero counts.
 * Seed 000 asked for 24 hours without anomalies or memory growth; the goal here is a memory slope
 * under 1 MiB per hour after warm-up.
 */
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type RoleSample, run } from '../examples/000-media-files/main.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    out: { type: 'string' },
    'sample-seconds': { type: 'string', default: '10' },
    snapshots: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const sampleMs = Number(values['sample-seconds']) * 1000;
const dir = mkdtempSync(join(tmpdir(), 'sluice-soak-'));
const wal = join(dir, 'media_status.db-wal');
const startedAt = Date.now();
const load = loadavg()[0] ?? 0;

interface Point {
  readonly t: number;
  readonly value: number;
}
const series = new Map<string, Point[]>();
const add = (name: string, value: number) => {
  const list = series.get(name) ?? [];
  list.push({ t: (Date.now() - startedAt) / 3_600_000, value });
  series.set(name, list);
};

const walTimer = setInterval(() => add('wal bytes', existsSync(wal) ? statSync(wal).size : 0), sampleMs);
const report = await run({
  seconds: minutes * 60,
  dir,
  soak: {
    sampleMs,
    ...(values.snapshots ? { snapshotDir: values.snapshots } : {}),
    onSample: (s: RoleSample) => {
      const who = `${s.role} ${s.pid}`;
      add(`${who} rss bytes`, s.rssBytes);
      add(`${who} heap bytes`, s.heapBytes);
      add(`${who} handles`, s.handles);
      add(`${who} ack p99 ms`, s.ackP99Ms);
    },
  },
});
clearInterval(walTimer);

/** Least-squares slope per hour over the points after the warm-up (the first fifth of the run). */
function slope(points: readonly Point[]): number {
  const warm = points.filter((p) => p.t >= (minutes / 60) * 0.2);
  if (warm.length < 3) return Number.NaN;
  const n = warm.length;
  const mt = warm.reduce((s, p) => s + p.t, 0) / n;
  const mv = warm.reduce((s, p) => s + p.value, 0) / n;
  const num = warm.reduce((s, p) => s + (p.t - mt) * (p.value - mv), 0);
  const den = warm.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MiB = 1024 * 1024;
const rows = [...series].map(([name, points]) => {
  const last = points[points.length - 1]?.value ?? 0;
  const perHour = slope(points);
  const bytes = name.endsWith('bytes');
  return {
    name,
    samples: points.length,
    last: bytes ? `${(last / MiB).toFixed(1)} MiB` : last.toFixed(1),
    slopePerHour: bytes ? `${(perHour / MiB).toFixed(2)} MiB/h` : `${perHour.toFixed(2)}/h`,
    memory: name.endsWith('rss bytes') || name.endsWith('heap bytes'),
    perHourMiB: perHour / MiB,
  };
});
const worstMemory = Math.max(...rows.filter((r) => r.memory && r.name.includes('heap')).map((r) => r.perHourMiB));
const summary = {
  minutes,
  loadAtStart: Math.round(load * 100) / 100,
  figures: report.figures,
  met: report.met,
  worstHeapSlopeMiBPerHour: Math.round(worstMemory * 100) / 100,
  heapGoal: '< 1 MiB/h after warm-up',
};
const table = [
  `## Soak: seed 000 for ${minutes} minutes (load ${summary.loadAtStart} at start, ${new Date(startedAt).toISOString()})`,
  '',
  '| series | samples | last | slope after warm-up |',
  '|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.name} | ${r.samples} | ${r.last} | ${r.slopePerHour} |`),
  '',
  `Zero counts and figures: \`${JSON.stringify(report.figures)}\`; met: ${report.met}.`,
  `Worst heap slope: ${summary.worstHeapSlopeMiBPerHour} MiB/h (goal < 1 MiB/h).`,
].join('\n');
process.stdout.write(`${table}\n\n${JSON.stringify(summary)}\n`);
if (values.out) writeFileSync(values.out, `${table}\n`);
process.exit(report.met ? 0 : 1);
