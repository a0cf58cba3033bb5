/**
 * The five seed systems as they run from `npm run example`: each one's headline figures beside the
 * figure its seed document promised, from the same run as every other benchmark.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Comparison, Goal, ScenarioResult } from './support/scenario-result.js';

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

interface ExampleReport {
  readonly example: string;
  readonly seconds: number;
  readonly figures: Record<string, unknown>;
  readonly promised: Record<string, string>;
  readonly met: boolean;
}

/** Runs one example as a newcomer would (its own process, through tsx) and parses its JSON line. */
function runExample(name: string, seconds: number): Promise<ExampleReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(EXAMPLES, 'run.ts'), name, '--seconds', String(seconds)],
      { maxBuffer: 16 * 1024 * 1024, timeout: (seconds + 120) * 1000 },
      (error, stdout) => {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as ExampleReport);
        } catch {
          reject(error ?? new Error(`${name} printed no JSON line`));
        }
      },
    );
  });
}

/** Reads a seed's promise such as "< 100", "< 1 %", ">= 500" or "0" as a check on a figure. */
export function promiseGoal(promise: string, value: number): Goal | undefined {
  // A number may carry thousands separators and words after it ("≥ 10,000 files/s without …"); a range ("10-20 ms") is no bound.
  const m = /^\s*(<=|>=|<|>|=)?\s*(-?\d[\d,]*(?:\.\d+)?)\s*(%)?(?:\s+[A-Za-z(].*)?$/.exec(promise);
  if (!m) return undefined;
  const bound = Number(m[2]?.replaceAll(',', '')) / (m[3] ? 100 : 1);
  const op = m[1] ?? '=';
  const met =
    op === '<' ? value < bound : op === '<=' ? value <= bound : op === '>' ? value > bound : op === '>=' ? value >= bound : value === bound;
  return { text: `seed: ${promise.trim()}`, met };
}

export async function run(seconds: number): Promise<ScenarioResult> {
  const names = readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d{3}-/.test(e.name))
    .map((e) => e.name);
  const comparisons: Comparison[] = [];
  const notes: string[] = [`Each example ran ${seconds} s with \`npm run example -- <name> --seconds ${seconds}\`.`];
  for (const name of names) {
    let report: ExampleReport;
    try {
      report = await runExample(name, seconds);
    } catch (error) {
      notes.push(`${name}: did not finish: ${(error as Error).message}`);
      continue;
    }
    const other: string[] = [];
    for (const [key, value] of Object.entries(report.figures)) {
      const promise = report.promised[key];
      const goal = typeof value === 'number' && promise !== undefined ? promiseGoal(promise, value) : undefined;
      if (typeof value === 'number' && goal) comparisons.push({ measure: `${name}: ${key}`, unit: '', sluice: value, goal });
      else other.push(`${key} ${JSON.stringify(value)}${promise ? ` (seed: ${promise})` : ''}`);
    }
    notes.push(`${name} ${report.met ? 'met every promise' : 'MISSED a promise'}; other figures: ${other.join(', ')}.`);
  }
  return {
    id: 'examples',
    title: 'The five seed systems, run as examples: headline figures beside the seed’s promise',
    comparisons,
    notes,
  };
}
