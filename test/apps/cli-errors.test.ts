import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';
import { PACKAGE_ENTRY, sluice } from './cli-support.js';

const NOTES = "defineTable('notes', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' })";
const IMPORT = `import { defineTable } from ${JSON.stringify(PACKAGE_ENTRY)};`;

/** A config file or schema module that cannot be used is refused with CONFIG and a message naming the fix. */
describe('sluice CLI: config and schema refusals', () => {
  const dir = tempDir('sluice-cli-errors-');
  let n = 0;
  // Each case gets a folder of its own: this process caches every module it imports.
  const folder = (files: Record<string, string>) => {
    const at = join(dir, `case-${n++}`);
    mkdirSync(at);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(at, name), text);
    return at;
  };

  it.each([
    [
      'two config files',
      { 'sluice.config.js': 'export default {};\n', 'sluice.config.mjs': 'export default {};\n' },
      /Both .* exist; keep one/,
    ],
    ['a config that does not parse', { 'sluice.config.mjs': 'export default {\n' }, /Cannot load .*sluice\.config\.mjs/],
    ['a default export that is not an object', { 'sluice.config.mjs': 'export default 42;\n' }, /must `export default \{ url, schema \}`/],
    ['an empty url', { 'sluice.config.mjs': "export default { url: '' };\n" }, /has url .*use a database URL/],
    ['a schema that is a number', { 'sluice.config.mjs': "export default { url: 'sqlite:./a.db', schema: 5 };\n" }, /has schema 5/],
    [
      'an inline schema with schemaVersion 0',
      { 'sluice.config.mjs': `${IMPORT}\nexport default { url: 'sqlite:./a.db', schema: { tables: [${NOTES}], schemaVersion: 0 } };\n` },
      /exports schemaVersion 0; use a whole number >= 1/,
    ],
  ] as const)('config: %s', async (_, files, message) => {
    const run = await sluice(['migrate'], folder(files));
    expect(run.code).toBe(1);
    expect(run.body.error.code).toBe('CONFIG');
    expect(run.body.error.message).toMatch(message);
  });

  it.each([
    ['a module that does not exist', undefined, /Cannot load the schema module .*schema\.mjs \(named by --schema\)/],
    ['no tables', 'export const tables = [];\n', /must export `tables`, a non-empty array/],
    [
      'a schemaVersion that is text',
      `${IMPORT}\nexport const tables = [${NOTES}];\nexport const schemaVersion = 'x';\n`,
      /exports schemaVersion/,
    ],
    [
      'migrations that are not an array',
      `${IMPORT}\nexport const tables = [${NOTES}];\nexport const migrations = 5;\n`,
      /exports migrations 5; use an array/,
    ],
    [
      'tasks that are text',
      `${IMPORT}\nexport const tables = [${NOTES}];\nexport const tasks = 'yes';\n`,
      /exports tasks .*use true, false or \{ resultTtlMs \}/,
    ],
  ] as const)('--schema: %s', async (_, module, message) => {
    const at = folder(module === undefined ? {} : { 'schema.mjs': module });
    const run = await sluice(['migrate', '--db', 'sqlite:./a.db', '--schema', './schema.mjs'], at);
    expect(run.code).toBe(1);
    expect(run.body.error.code).toBe('CONFIG');
    expect(run.body.error.message).toMatch(message);
  });
});
