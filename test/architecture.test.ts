import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The folders of src/ are layers, and imports run one way: down. The table is the architecture;
 * a new folder must be given a place here before it can hold code.
 */
const LAYERS: Record<string, number> = {
  core: 0,
  schema: 1,
  query: 2,
  dialect: 3,
  gate: 4,
  cache: 5,
  lifecycle: 5,
  metrics: 5,
  api: 6,
  tasks: 7,
  maintenance: 7,
  sync: 7,
  rollup: 7,
  workers: 7,
  alerts: 7,
  database: 8,
  // The package entries sit above the engine and below the faces.
  '<entry>': 8.5,
  cli: 9,
  server: 9,
};
const FACES = new Set(['cli', 'server']);
const ENTRIES = new Set(['index.ts', 'internal.ts']);

interface SourceFile {
  /** Path under src/, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly why: string;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function folderOf(path: string): string {
  const [first, ...rest] = path.split('/');
  return rest.length === 0 ? '<entry>' : (first as string);
}

/** Every relative import of every file, resolved to a path under src/. */
function importsOf(file: SourceFile): { spec: string; target: string }[] {
  const found: { spec: string; target: string }[] = [];
  for (const match of file.text.matchAll(IMPORT)) {
    const spec = (match[1] ?? match[2]) as string;
    if (!spec.startsWith('.')) continue;
    found.push({ spec, target: posix.normalize(posix.join(posix.dirname(file.path), spec)).replace(/\.js$/, '.ts') });
  }
  return found;
}

function checkLayers(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const from = folderOf(file.path);
    const fromLayer = LAYERS[from];
    if (fromLayer === undefined) {
      violations.push({
        file: file.path,
        imports: '',
        why: `folder "${from}" has no layer; add it to LAYERS in test/architecture.test.ts`,
      });
      continue;
    }
    for (const { spec, target } of importsOf(file)) {
      if (target.startsWith('..')) {
        violations.push({ file: file.path, imports: spec, why: 'reaches outside src/' });
        continue;
      }
      const to = folderOf(target);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)?.add(to);
      const toLayer = LAYERS[to];
      if (FACES.has(to)) violations.push({ file: file.path, imports: spec, why: `nothing may import the face "${to}"` });
      else if (FACES.has(from) && !ENTRIES.has(target)) {
        violations.push({ file: file.path, imports: spec, why: 'a face imports only src/index.ts and src/internal.ts' });
      } else if (toLayer === undefined) violations.push({ file: file.path, imports: spec, why: `folder "${to}" has no layer` });
      else if (toLayer === fromLayer) {
        violations.push({
          file: file.path,
          imports: spec,
          why: `"${from}" and "${to}" are siblings (layer ${toLayer}) and never import each other`,
        });
      } else if (toLayer > fromLayer) {
        violations.push({
          file: file.path,
          imports: spec,
          why: `upward import: "${from}" (layer ${fromLayer}) -> "${to}" (layer ${toLayer})`,
        });
      }
    }
  }
  for (const cycle of cycles(edges)) violations.push({ file: cycle.join(' -> '), imports: '', why: 'a circle between folders' });
  return violations;
}

/**
 * Circles between files, type-only imports included: a circle inside one folder is invisible to
 * the folder graph, yet it decides module evaluation order and keeps the files from being read
 * (or moved) one at a time.
 */
function checkFileCircles(files: readonly SourceFile[]): Violation[] {
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = new Set<string>();
    for (const { target } of importsOf(file)) if (!target.startsWith('..')) targets.add(target);
    edges.set(file.path, targets);
  }
  return cycles(edges).map((cycle) => ({ file: cycle.join(' -> '), imports: '', why: 'a circle between files' }));
}

/** Circles in a directed graph, each as the nodes along it. */
function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

function sourceFiles(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts'))
        files.push({ path: relative(root, path).split('\\').join('/'), text: readFileSync(path, 'utf8') });
    }
  };
  walk(root);
  return files;
}

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const describeViolations = (list: readonly Violation[]) => list.map((v) => `${v.file}: ${v.imports} — ${v.why}`).join('\n');

describe('the layers of src/', () => {
  it('import only downward, never between siblings, faces only through the entries, with no circle', () => {
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(50);
    expect(describeViolations(checkLayers(files))).toBe('');
  });

  it('has no circle between files, type-only imports included', () => {
    expect(describeViolations(checkFileCircles(sourceFiles(src)))).toBe('');
  });

  it('catches a planted circle between two files of one folder', () => {
    const planted = checkFileCircles([
      { path: 'schema/a.ts', text: "import type { B } from './b.js';" },
      { path: 'schema/b.ts', text: "import { a } from './a.js';" },
      { path: 'schema/c.ts', text: "import { a } from './a.js';" },
    ]);
    expect(planted.map((v) => `${v.file} ${v.why}`)).toEqual(['schema/a.ts -> schema/b.ts -> schema/a.ts a circle between files']);
  });

  it('catches a planted upward import, a sibling import, a face reaching past the entry, and a circle', () => {
    const planted = checkLayers([
      { path: 'schema/define-table.ts', text: "import type { WriteGate } from '../gate/write-gate.js';" },
      { path: 'cache/table-cache.ts', text: "import { LifecycleOps } from '../lifecycle/lifecycle-ops.js';" },
      { path: 'cli/commands/doctor.ts', text: "import { open } from '../../database/database.js';" },
      { path: 'database/database.ts', text: "export { main } from '../cli/main.js';" },
      { path: 'gate/write-gate.ts', text: "const m = await import('../metrics/metrics.js');" },
      { path: 'widgets/w.ts', text: '' },
    ]);
    expect(planted.map((v) => `${v.file} ${v.why.split(':')[0]}`)).toEqual([
      'schema/define-table.ts upward import',
      'cache/table-cache.ts "cache" and "lifecycle" are siblings (layer 5) and never import each other',
      'cli/commands/doctor.ts a face imports only src/index.ts and src/internal.ts',
      'database/database.ts nothing may import the face "cli"',
      'gate/write-gate.ts upward import',
      'widgets/w.ts folder "widgets" has no layer; add it to LAYERS in test/architecture.test.ts',
      'cli -> database -> cli a circle between folders',
    ]);
    expect(
      cycles(
        new Map([
          ['a', new Set(['b'])],
          ['b', new Set(['c'])],
          ['c', new Set(['a'])],
        ]),
      ),
    ).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('keeps dialect names out of the engine: differences are capability flags on the port', () => {
    const branches = sourceFiles(src).filter(
      (f) => !f.path.startsWith('dialect/') && !FACES.has(folderOf(f.path)) && /[!=]==\s*'(sqlite|postgres)'/.test(f.text),
    );
    expect(branches.map((f) => f.path)).toEqual([]);
  });

  it('keeps files under 350 lines and functions under 80, or says above a long function why it is long', () => {
    const root = join(src, '..');
    const report = JSON.parse(
      execFileSync(process.execPath, ['scripts/code-size.mjs', '--json', '--max-file', '350', '--max-fn', '80'], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as { files: { path: string; lines: number }[]; functions: { path: string; line: number; lines: number; name: string }[] };
    const unexplained = report.functions.filter((f) => {
      const above = readFileSync(join(root, f.path), 'utf8')
        .split('\n')
        .slice(Math.max(0, f.line - 4), f.line - 1);
      return !above.some((line) => /\/\/ Long because /.test(line));
    });
    expect(report.files.map((f) => `${f.path}: ${f.lines} lines`)).toEqual([]);
    expect(unexplained.map((f) => `${f.path}:${f.line} ${f.name}: ${f.lines} lines`)).toEqual([]);
  });
});
