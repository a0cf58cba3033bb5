import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The folder holding Sluice's package.json. Found by walking up from this file, so it is the same
 * whether the code runs compiled (dist/cli) or from source under vitest (src/cli).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sluice') {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find Sluice's package.json above ${fileURLToPath(import.meta.url)}.`);
    dir = parent;
  }
}

/**
 * A compiled entry point that child processes run. Children always run dist/, even when the parent
 * runs from source: `npm run build` first.
 */
export function compiledEntry(...segments: string[]): string {
  const file = join(packageRoot(), 'dist', ...segments);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (child processes run the compiled code).`);
  return file;
}

/** A helper script shipped in scripts/ (the Python foreign writers). */
export function scriptFile(name: string): string {
  return join(packageRoot(), 'scripts', name);
}
