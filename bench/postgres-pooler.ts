/**
 * What `postgres: { pooler: 'transaction' }` costs, on the shared PostgreSQL and through a
 * throwaway PgBouncer (transaction mode, 4 server connections) in front of it:
 *
 *   A  direct, default mode (named prepared statements, settings in the startup packet)
 *   B  direct, pooler mode (unnamed statements, SET LOCAL in each transaction, reads wrapped)
 *   C  through PgBouncer, pooler mode
 *
 * run A B C C B A (rounds alternate the order), each on a fresh schema, and the medians printed.
 * A last part prices the read wrapping alone with bare pg clients: a point read as is, and as
 * BEGIN; SET LOCAL search_path / the read / COMMIT pipelined, directly and through PgBouncer.
 *
 *   npx tsx bench/postgres-pooler.ts [rounds]
 */
import pg from 'pg';
import { type Database, defineTable, open } from '../src/index.js';
import { startThrowawayPgBouncer } from '../test/support/throwaway-pgbouncer.js';

const SERVER_URL = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.argv[2] ?? 2);
const INSERTS = 4000;
const SINGLES = 300;
const JOBS = 2000;
const READS = 4000;

const jobs = defineTable('bench_pooler_jobs', {
  columns: { id: 'integer', status: 'text', payload: 'text' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'pending'] },
    leases: { expireTo: 'pending' },
  },
});
const rows = defineTable('bench_pooler_rows', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' });

type Shape = 'insert rows/s' | 'awaited insert ms' | 'claim+settle jobs/s' | 'point read reads/s';

async function timed(fn: () => Promise<number>): Promise<number> {
  const started = performance.now();
  const count = await fn();
  return count / ((performance.now() - started) / 1000);
}

async function measure(db: Database): Promise<Record<Shape, number>> {
  const r = db.table(rows);
  const insertRate = await timed(async () => {
    for (let start = 0; start < INSERTS; start += 1000)
      await Promise.all(Array.from({ length: 1000 }, (_, i) => r.insert({ id: start + i, body: `row ${start + i}` })));
    return INSERTS;
  });
  const started = performance.now();
  for (let i = 0; i < SINGLES; i++) await r.insert({ id: INSERTS + i, body: 'single' });
  const awaitedMs = (performance.now() - started) / SINGLES;
  const j = db.table(jobs);
  await Promise.all(Array.from({ length: JOBS }, (_, i) => j.insert({ id: i, payload: `job ${i}` })));
  const claimRate = await timed(async () => {
    const claimer = async (w: number) => {
      for (;;) {
        const claimed = await j.claim({ from: 'pending', to: 'running', limit: 50, leaseMs: 60_000, owner: `w${w}` });
        if (claimed.length === 0) return;
        await Promise.all(claimed.map((job) => j.transition(job.id, 'done', { from: 'running', token: job.attempt })));
      }
    };
    await Promise.all([0, 1, 2, 3].map(claimer));
    return JOBS;
  });
  const readRate = await timed(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < READS) await r.get(next++ % INSERTS);
      }),
    );
    return READS;
  });
  return { 'insert rows/s': insertRate, 'awaited insert ms': awaitedMs, 'claim+settle jobs/s': claimRate, 'point read reads/s': readRate };
}

async function runMode(url: string, pooler: boolean, schema: string): Promise<Record<Shape, number>> {
  const db = await open({
    url: `${url}?schema=${schema}`,
    tables: [jobs, rows],
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
    ...(pooler ? { postgres: { pooler: 'transaction' as const } } : {}),
  });
  try {
    await db.migrate();
    return await measure(db);
  } finally {
    await db.close();
  }
}

/** Point reads by 16 clients: bare, or wrapped in a pipelined transaction that sets search_path. */
async function rawReads(url: string, schema: string, wrapped: boolean): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 16, pipeline: wrapped } as pg.PoolConfig);
  const sql = `select * from "${schema}".bench_pooler_rows where id = $1`;
  try {
    return await timed(async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          const client = await pool.connect();
          try {
            while (next < READS) {
              const id = next++ % INSERTS;
              if (!wrapped) await client.query(sql, [id]);
              else
                await Promise.all([
                  client.query(`begin; set local search_path = "${schema}"`),
                  client.query(sql, [id]),
                  client.query('commit'),
                ]);
            }
          } finally {
            client.release();
          }
        }),
      );
      return READS;
    });
  } finally {
    await pool.end();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const server = new URL(SERVER_URL);
const bouncer = await startThrowawayPgBouncer({
  serverHost: server.hostname,
  serverPort: Number(server.port || 5432),
  settings: { default_pool_size: '4' },
});
const database = server.pathname.slice(1);
const admin = new pg.Client({ connectionString: SERVER_URL });
await admin.connect();
const modes = {
  'A direct': [SERVER_URL, false],
  'B direct+pooler mode': [SERVER_URL, true],
  'C pgbouncer+pooler mode': [bouncer.url(database), true],
} as const;
const samples: Record<string, Record<string, number[]>> = {};
const created: string[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.entries(modes);
    for (const [name, [url, pooler]] of round % 2 === 0 ? order : order.reverse()) {
      const schema = `bench_pooler_${process.pid}_${round}_${name[0]?.toLowerCase()}`;
      created.push(schema);
      const result = await runMode(url, pooler, schema);
      for (const [shape, value] of Object.entries(result)) {
        const byMode = samples[shape] ?? {};
        byMode[name] = [...(byMode[name] ?? []), value];
        samples[shape] = byMode;
      }
      console.error(`round ${round} ${name}: ${JSON.stringify(result)}`);
    }
  }
  const schema = created[0] as string;
  const raw: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, url, wrapped] of [
      ['direct bare', SERVER_URL, false],
      ['direct wrapped', SERVER_URL, true],
      ['pgbouncer bare', bouncer.url(database), false],
      ['pgbouncer wrapped', bouncer.url(database), true],
    ] as const) {
      raw[label] = [...(raw[label] ?? []), await rawReads(url, schema, wrapped)];
    }
  }
  console.log(`| shape (median of ${ROUNDS}) | ${Object.keys(modes).join(' | ')} |`);
  console.log(
    `|---|${Object.keys(modes)
      .map(() => '---')
      .join('|')}|`,
  );
  for (const [shape, byMode] of Object.entries(samples)) {
    console.log(
      `| ${shape} | ${Object.keys(modes)
        .map((m) => median(byMode[m] ?? []).toFixed(shape.endsWith('ms') ? 2 : 0))
        .join(' | ')} |`,
    );
  }
  // Paired within each round (modes ran back to back): steadier than the medians on a shared machine.
  const names = Object.keys(modes);
  console.log(`\n| ratio to ${names[0]} (median of per-round ratios) | ${names.slice(1).join(' | ')} |`);
  console.log(
    `|---|${names
      .slice(1)
      .map(() => '---')
      .join('|')}|`,
  );
  for (const [shape, byMode] of Object.entries(samples)) {
    const base = byMode[names[0] as string] ?? [];
    const ratios = names.slice(1).map((m) => median((byMode[m] ?? []).map((v, i) => v / (base[i] as number))).toFixed(2));
    console.log(`| ${shape} | ${ratios.join(' | ')} |`);
  }
  console.log(
    `\nraw point reads/s, 16 clients: ${Object.entries(raw)
      .map(([k, v]) => `${k} ${median(v).toFixed(0)}`)
      .join(', ')}`,
  );
} finally {
  for (const schema of created) await admin.query(`drop schema if exists "${schema}" cascade`);
  await admin.end();
  await bouncer.destroy();
}
