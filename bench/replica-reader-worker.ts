/**
 * One reader process of the replicas scenario, started by replicas.bench.ts:
 *   node --import tsx bench/replica-reader-worker.ts <primaryUrl> <schema> <replicaUrl|-> <warmupS> <measureS> <inFlight> <rows>
 * Prints "ready", waits for "go" on stdin, reads random keys with `get` until the window ends and
 * prints one JSON line: reads in the window, and how many the router sent to each server.
 */
import { createInterface } from 'node:readline';
import { open } from '../src/index.js';
import { Window } from './support/measure.js';
import { replicaRows } from './support/replica-table.js';

export interface ReaderReport {
  readonly reads: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly primary: number;
  readonly replica: number;
}

const [primaryUrl, schema, replicaUrl, warmup, measure, inFlight, rows] = process.argv.slice(2) as string[];

const db = await open({
  url: primaryUrl as string,
  tables: [replicaRows],
  postgres: { schema, ...(replicaUrl && replicaUrl !== '-' ? { replicas: [replicaUrl] } : {}) },
});
const table = db.table(replicaRows);
// Statements prepared and connections opened before the clock starts.
for (let i = 0; i < 50; i++) await table.get(i);

process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) if (line.trim() === 'go') break;
process.stdin.destroy();

const before = db.stats().storage;
const window = new Window(Number(warmup), Number(measure));
let errors = 0;
const count = Number(rows);
await Promise.all(
  Array.from({ length: Number(inFlight) }, async () => {
    while (window.running()) {
      try {
        await table.get(Math.floor(Math.random() * count));
        window.add(1);
      } catch {
        errors++;
      }
    }
  }),
);
const after = db.stats().storage;
const delta = (k: string) => Number((after as Record<string, unknown>)[k] ?? 0) - Number((before as Record<string, unknown>)[k] ?? 0);
const report: ReaderReport = {
  reads: window.counted,
  perSecond: window.perSecond,
  errors,
  primary: delta('readsPrimary'),
  replica: delta('readsReplica'),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
await db.close();
