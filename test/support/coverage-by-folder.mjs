// Folds coverage/coverage-summary.json (one row per file) into one row per src/ folder, the figure the README's
// Tests section records. Run by `npm run coverage` after vitest has written the summary.
import { readFileSync } from 'node:fs';
import { relative, sep } from 'node:path';

const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
const folders = new Map();
for (const [file, metrics] of Object.entries(summary)) {
  if (file === 'total') continue;
  const parts = relative('src', file).split(sep);
  const folder = parts.length > 1 ? `src/${parts[0]}` : 'src (root files)';
  const row = folders.get(folder) ?? { lines: [0, 0], branches: [0, 0], functions: [0, 0], files: 0 };
  for (const kind of ['lines', 'branches', 'functions']) {
    row[kind][0] += metrics[kind].covered;
    row[kind][1] += metrics[kind].total;
  }
  row.files += 1;
  folders.set(folder, row);
}

const pct = ([covered, total]) => (total === 0 ? '100.0' : ((100 * covered) / total).toFixed(1)).padStart(6);
console.log(`${'folder'.padEnd(20)} files  lines% branch%  funcs%`);
for (const [folder, row] of [...folders].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`${folder.padEnd(20)} ${String(row.files).padStart(5)} ${pct(row.lines)}  ${pct(row.branches)}  ${pct(row.functions)}`);
}
const total = summary.total;
console.log(
  `${'all of src/'.padEnd(20)} ${String(folders.size).padStart(5)} ${pct([total.lines.covered, total.lines.total])}  ${pct([total.branches.covered, total.branches.total])}  ${pct([total.functions.covered, total.functions.total])}`,
);
