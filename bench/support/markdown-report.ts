import type { Machine } from './machine.js';
import type { Budget, Comparison, ScenarioResult } from './scenario-result.js';

/** BENCHMARKS.md: the machine, every goal beside its figure, then each scenario's table and notes. */
export function markdownReport(
  machine: Machine,
  budget: Budget,
  results: readonly ScenarioResult[],
  startedAt: Date,
  seconds: number,
): string {
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(
    `Written by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; the run took ${Math.round(seconds)} s. ` +
      'Every ratio compares Sluice with the raw driver **measured in the same run**, on the same machine, row shape and file settings. ' +
      'Ratios are Sluice ÷ raw: above 1 is more throughput (or more latency) than raw.',
    '',
  );
  lines.push('## Machine', '');
  lines.push('| | |', '|---|---|');
  lines.push(`| CPU | ${machine.cpu} |`);
  lines.push(`| cores | ${machine.cores} |`);
  lines.push(`| memory | ${machine.memoryGiB} GiB |`);
  lines.push(`| Node | ${machine.node} |`);
  lines.push(`| SQLite (better-sqlite3) | ${machine.sqlite} |`);
  lines.push(`| PostgreSQL | ${machine.postgres} |`);
  lines.push(`| load average at start | ${machine.loadAtStart.toFixed(2)} |`);
  lines.push(`| per measurement | ${budget.warmupSeconds} s warm-up, ${budget.measureSeconds} s measured |`);
  lines.push('');
  lines.push('## Goals', '');
  lines.push('| scenario | measure | Sluice | raw | ratio | goal | |', '|---|---|---:|---:|---:|---|---|');
  for (const result of results) {
    if (result.skipped) {
      lines.push(`| ${result.id} | — | — | — | — | — | not run: ${escapePipes(result.skipped)} |`);
      continue;
    }
    for (const c of result.comparisons) {
      if (c.goal)
        lines.push(
          `| ${result.id} | ${escapePipes(c.measure)} | ${figure(c.sluice, c.unit)} | ${rawFigure(c)} | ${times(c.ratio)} | ${c.goal.text} | ${c.goal.met ? 'met' : '**missed**'} |`,
        );
    }
  }
  lines.push('');
  for (const result of results) {
    lines.push(`## ${result.title}`, '');
    lines.push(`\`${result.id}\``, '');
    if (result.skipped) {
      lines.push(`Not run: ${result.skipped}.`, '');
      continue;
    }
    lines.push('| measure | Sluice | raw | Sluice ÷ raw | goal |', '|---|---:|---:|---:|---|');
    for (const c of result.comparisons) {
      const goal = c.goal ? `${c.goal.text}: ${c.goal.met ? 'met' : '**missed**'}` : '';
      lines.push(`| ${escapePipes(c.measure)} | ${figure(c.sluice, c.unit)} | ${rawFigure(c)} | ${times(c.ratio)} | ${goal} |`);
    }
    lines.push('');
    for (const note of result.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function rawFigure(c: Comparison): string {
  return c.raw === undefined ? '—' : figure(c.raw, c.unit);
}

export function figure(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return unit ? `${text} ${unit}` : text;
}

function times(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}×`;
}

function escapePipes(text: string): string {
  return text.replaceAll('|', '\\|');
}
