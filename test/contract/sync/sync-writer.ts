/**
 * A writer for the kill -9 test: writes and ships until it is killed. Before each write it logs
 * `S key version|D version`; after the write resolves it logs `A …` the same way. Versions rise
 * across runs (the run number leads), so a row on the target can be checked against both.
 */
import { appendFileSync } from 'node:fs';
import { open } from '../../../src/index.js';
import { crashKv } from './crash-table.js';

const [file, target, schema, run, log] = process.argv.slice(2) as [string, string, string, string, string];
const db = await open({
  url: `sqlite:${file}`,
  tables: [crashKv],
  sync: { target, schema, batchSize: 300, intervalMs: 30, backoffInitialMs: 10, backoffMaxMs: 100 },
  maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
});
await db.migrate();
const kv = db.table(crashKv);
const KEYS = 1500;
let version = Number(run) * 10_000_000;
process.send?.({ type: 'ready' });
async function worker(): Promise<void> {
  for (;;) {
    const key = Math.floor(Math.random() * KEYS);
    const v = ++version;
    if (Math.random() < 0.15) {
      appendFileSync(log, `S ${key} D ${v}\n`);
      await kv.delete(key);
      appendFileSync(log, `A ${key} D ${v}\n`);
    } else {
      appendFileSync(log, `S ${key} ${v}\n`);
      await kv.upsert({ id: key, version: v, payload: `p${v}` });
      appendFileSync(log, `A ${key} ${v}\n`);
    }
  }
}
await Promise.all(Array.from({ length: 32 }, () => worker()));
