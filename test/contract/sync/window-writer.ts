/**
 * A writer for the crash-window test: writes `count` rows from `from`, logging each acknowledged
 * id, while its shipper ships; once all are written it flushes, and kills itself (SIGKILL) the
 * moment the target acknowledges the COMMIT of the `killAt`-th batch after that, before the
 * shipper's next step: the crash lands exactly
 * between the target's COMMIT and the file's record of it. The driver is the real one; only its
 * `query` is wrapped, to see the COMMIT come back.
 */
import { appendFileSync } from 'node:fs';
import pg from 'pg';
import { open } from '../../../src/index.js';
import { crashKv } from './crash-table.js';

const [file, target, schema, from, count, killAt, log] = process.argv.slice(2) as [string, string, string, string, string, string, string];

/** Armed once every row is written, so each run's rows are all acknowledged before it dies. */
let armed = false;
let offsetsMoved = false;
let commits = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const result = (query as (...a: unknown[]) => unknown).apply(this, args);
  const text = typeof args[0] === 'string' ? args[0] : '';
  const shipping = String(
    (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters.application_name,
  ).startsWith('sluice sync');
  if (!shipping || !(result instanceof Promise)) return result;
  // The shipper may send several statements in one message: the offsets move in its first, the COMMIT ends its last.
  if (/(^|;\s*)update\s+"?_sluice_sync_offsets/i.test(text)) offsetsMoved = true;
  if (/(^|;\s*)commit$/i.test(text) && offsetsMoved && armed) {
    offsetsMoved = false;
    return result.then((value) => {
      if (++commits >= Number(killAt)) process.kill(process.pid, 'SIGKILL');
      return value;
    });
  }
  return result;
} as typeof query;

const db = await open({
  url: `sqlite:${file}`,
  tables: [crashKv],
  sync: { target, schema, batchSize: 100, intervalMs: 3_600_000, backoffInitialMs: 10, backoffMaxMs: 100 },
  maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
});
await db.migrate();
const kv = db.table(crashKv);
const ids = Array.from({ length: Number(count) }, (_, i) => Number(from) + i);
// One burst, so at least ten batches wait when the kill is armed.
await Promise.all(ids.map((id) => kv.upsert({ id, version: 1, payload: `p${id}` })));
appendFileSync(log, `${ids.join('\n')}\n`);
armed = true;
await db.sync.flush();
// With nothing of its own to write, it is there to resync after a fork: it stays until that ends.
while (Number(count) === 0 && (db.sync.status().forks === 0 || db.sync.status().resyncing)) await new Promise((r) => setTimeout(r, 20));
// Every row shipped before the chosen COMMIT came: say so, so the test can tell.
process.send?.({ type: 'shipped-all' });
await db.close();
