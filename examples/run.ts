/**
 * `npm run example -- <name> [--seconds S]`: runs one of the seed systems built on Sluice and
 * prints one JSON line, its headline figures beside what the seed promised.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ExampleOptions, ExampleReport } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isDirectory() && /^\d{3}-/.test(e.name))
  .map((e) => e.name);
const { values, positionals } = parseArgs({ options: { seconds: { type: 'string', default: '10' } }, allowPositionals: true });
const wanted = positionals[0];
const name = names.find((n) => n === wanted || n.slice(4) === wanted || n.slice(0, 3) === wanted);
if (!name) {
  process.stderr.write(`Usage: npm run example -- <name> [--seconds S]\nExamples: ${names.join(', ')}\n`);
  process.exit(2);
}
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write(`--seconds must be a positive number, got ${values.seconds}\n`);
  process.exit(2);
}
const example = (await import(join(here, name, 'main.ts'))) as { run(options: ExampleOptions): Promise<ExampleReport> };
const report = await example.run({ seconds });
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(report.met ? 0 : 1);
