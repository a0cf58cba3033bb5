import pg from 'pg';
import { type Database, defineTable } from '../../../../src/index.js';
import { postgresUrl } from '../../../support/services.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const events = defineTable('events', {
  columns: { id: 'integer', producer: 'integer', body: 'text', at: 'timestamp' },
  primaryKey: 'id',
});

export interface Load {
  readonly acknowledged: number[];
  readonly failures: Record<string, number>;
  stop(): Promise<void>;
}

/** `workers` loops, each inserting rows with fresh ids and recording which ones resolved. */
export function startLoad(db: Database, workers: number, firstId: number): Load {
  const acknowledged: number[] = [];
  const failures: Record<string, number> = {};
  let next = firstId;
  let running = true;
  const t = db.table(events);
  const loops = Array.from({ length: workers }, async (_, producer) => {
    while (running) {
      const id = next++;
      try {
        await t.insert({ id, producer, body: `event ${id}`, at: new Date() }, { timeoutMs: 20_000 });
        acknowledged.push(id);
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'unknown';
        failures[code] = (failures[code] ?? 0) + 1;
        await sleep(5);
      }
    }
  });
  return {
    acknowledged,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** How many acknowledged ids are absent from `schema`.events on the server at `url`. */
export async function missing(schema: string, acknowledged: readonly number[], url = postgresUrl): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`select count(*)::int as n from "${schema}".events where id = any($1::bigint[])`, [acknowledged]);
    return acknowledged.length - (rows[0] as { n: number }).n;
  } finally {
    await client.end();
  }
}
