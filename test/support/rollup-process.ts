/**
 * A writer process for the multi-process rollup test: random inserts, upserts, updates and deletes
 * over ids every writer shares, so processes meet on the same rows and the same buckets. Exits 0
 * once its operations are done; CONFLICT, NOT_FOUND and a duplicate insert's CONSTRAINT are expected outcomes, anything else fails it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { open, SluiceError } from '../../src/index.js';
import { ROLLUP_HOUR, readings, readingsHourly } from './rollup-tables.js';

const [url, schema, ready, go, seedText, opsText] = process.argv.slice(2) as [string, string, string, string, string, string];
const db = await open({
  url,
  tables: [readings],
  rollups: [readingsHourly],
  ...(schema ? { postgres: { schema } } : {}),
  maintenance: { retentionIntervalMs: 0 },
});
const table = db.table(readings);
let seed = Number(seedText);
const random = (n: number) => {
  // A small LCG: each process's sequence is reproducible from its seed.
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % n;
};
const base = Date.UTC(2026, 11, 1);
const row = () => ({
  camera: ['a', 'b', 'c'][random(3)]!,
  ts: new Date(base + random(6) * ROLLUP_HOUR + random(3_600) * 1000),
  persons: random(40),
});
writeFileSync(ready, '');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 5));
const expectedFailure = (e: unknown) => e instanceof SluiceError && ['CONFLICT', 'NOT_FOUND', 'CONSTRAINT'].includes(e.code);
const pending: Promise<unknown>[] = [];
for (let i = 0; i < Number(opsText); i++) {
  const id = random(300);
  const op = random(4);
  const write =
    op === 0
      ? table.insert({ id, ...row() })
      : op === 1
        ? table.upsert({ id, ...row() })
        : op === 2
          ? table.update(id, row())
          : table.delete(id);
  pending.push(write.catch((e) => (expectedFailure(e) ? undefined : Promise.reject(e))));
  // Bursts of 50 in flight: batches mix kinds and meet the other processes' batches on the file.
  if (pending.length === 50) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
await db.close();
