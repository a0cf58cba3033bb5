/**
 * Which PostgreSQL driver the dialect should use: pg or postgres.js, measured in the same run on
 * the shapes the dialect actually sends.
 *
 * - unnest: one 1,000-row `INSERT … SELECT * FROM unnest(…)` per transaction (the batch fast path);
 * - awaited: 1,000 single-row inserts awaited one by one inside a transaction (per-op path);
 * - savepoints: the same, each wrapped in SAVEPOINT / RELEASE (per-op isolation);
 * - issued: 1,000 single-row inserts issued without awaiting inside a transaction (postgres.js
 *   pipelines them on the wire; pg queues them in the client and still waits per round trip);
 * - autocommit×8: single-row autocommit inserts from 8 connections (the raw baseline of the bench).
 *
 * Then the same through the dialect itself, each driver behind its connection port (pg's is the
 * shipped one, postgres.js's is below): 1,000-op insert batches, 1,000-op update and
 * compare-and-set batches, and point reads by key with 16 in flight.
 *
 * The machine is shared, so every shape runs for both drivers back to back, in alternating order,
 * for several rounds; the medians are reported, with each driver's client CPU per row (less
 * sensitive to other load than wall time, and what the driver itself costs).
 *
 * Run: `npx tsx bench/postgres-driver.ts [postgres://…] [--rounds N]`. Prints one JSON object.
 */
import pg from 'pg';
import postgres from 'postgres';
import { connectionSettings, type PgConnection, type PgResult, type PostgresDriver } from '../src/dialect/postgres/postgres-connection.js';
import { PostgresDialect } from '../src/dialect/postgres/postgres-dialect.js';
import { pgDriver } from '../src/dialect/postgres/postgres-pg-driver.js';
import type { WriteCommand, WriteOp } from '../src/dialect/write-op.js';
import { defineTable } from '../src/index.js';
import { parseFilter } from '../src/query/filter-parser.js';
import { RowCodec } from '../src/schema/row-codec.js';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;
const url =
  args.find((a) => a.startsWith('postgres')) ?? process.env.SLUICE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_driver_${process.pid}`;
const ROWS = 1000;

type Query = (text: string, params?: unknown[]) => Promise<unknown>;

interface Runner {
  readonly name: string;
  /** Runs `fn` on one dedicated connection. */
  session<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  pooled(text: string, params: unknown[]): Promise<unknown>;
  /** One array parameter of the given element type (postgres.js must be told; pg infers from the cast). */
  array(values: unknown[], elementOid: number): unknown;
  end(): Promise<void>;
}

function pgRunner(): Runner {
  const pool = new pg.Pool({ connectionString: url, max: 8, options: `-c search_path=${schema}` });
  return {
    name: 'pg',
    async session(fn) {
      const client = await pool.connect();
      try {
        return await fn((text, params) => client.query(text, params));
      } finally {
        client.release();
      }
    },
    pooled: (text, params) => pool.query(text, params),
    array: (values) => values,
    end: () => pool.end(),
  };
}

function postgresJsRunner(): Runner {
  const sql = postgres(url, { max: 8, onnotice: () => {}, connection: { search_path: schema } });
  return {
    name: 'postgres.js',
    async session(fn) {
      const reserved = await sql.reserve();
      try {
        return await fn((text, params) => reserved.unsafe(text, (params ?? []) as never[], { prepare: true }));
      } finally {
        reserved.release();
      }
    },
    pooled: (text, params) => sql.unsafe(text, params as never[], { prepare: true }),
    array: (values, oid) => sql.array(values as never[], oid),
    end: () => sql.end({ timeout: 5 }),
  };
}

interface Row {
  id: number;
  name: string;
  score: number;
  meta: string;
  at: Date;
}

let nextId = 1;
function rows(n: number): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < n; i++) {
    const id = nextId++;
    out.push({ id, name: `file-${id}`, score: id / 7, meta: JSON.stringify({ n: id, tag: 'x' }), at: new Date() });
  }
  return out;
}

const INSERT_ONE = 'insert into t (id, name, score, meta, at) values ($1, $2, $3, $4, $5)';
const INSERT_UNNEST =
  'insert into t (id, name, score, meta, at) select * from unnest($1::bigint[], $2::text[], $3::float8[], $4::text[]::jsonb[], $5::timestamptz[])';
const one = (r: Row) => [r.id, r.name, r.score, r.meta, r.at];

/** Each shape inserts `rows` rows and returns when they are committed. */
const SHAPES: Record<string, { rows: number; run: (runner: Runner) => Promise<void> }> = {
  unnest: {
    rows: ROWS * 10,
    async run(runner) {
      for (let t = 0; t < 10; t++) {
        const batch = rows(ROWS);
        await runner.session(async (q) => {
          await q('begin');
          await q(INSERT_UNNEST, [
            runner.array(
              batch.map((r) => r.id),
              20,
            ),
            runner.array(
              batch.map((r) => r.name),
              25,
            ),
            runner.array(
              batch.map((r) => r.score),
              701,
            ),
            runner.array(
              batch.map((r) => r.meta),
              25,
            ),
            runner.array(
              batch.map((r) => r.at),
              1184,
            ),
          ]);
          await q('commit');
        });
      }
    },
  },
  awaited: {
    rows: ROWS,
    run: (runner) =>
      runner.session(async (q) => {
        await q('begin');
        for (const r of rows(ROWS)) await q(INSERT_ONE, one(r));
        await q('commit');
      }),
  },
  savepoints: {
    rows: ROWS,
    run: (runner) =>
      runner.session(async (q) => {
        await q('begin');
        for (const r of rows(ROWS)) {
          await q('savepoint s');
          await q(INSERT_ONE, one(r));
          await q('release savepoint s');
        }
        await q('commit');
      }),
  },
  issued: {
    rows: ROWS,
    run: (runner) =>
      runner.session(async (q) => {
        await q('begin');
        await Promise.all(rows(ROWS).map((r) => q(INSERT_ONE, one(r))));
        await q('commit');
      }),
  },
  autocommit8: {
    rows: 2000,
    async run(runner) {
      const batch = rows(2000);
      let cursor = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (cursor < batch.length) await runner.pooled(INSERT_ONE, one(batch[cursor++] as Row));
        }),
      );
    },
  },
};

async function sample(runner: Runner, shape: { rows: number; run: (runner: Runner) => Promise<void> }) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await shape.run(runner);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { rowsPerSec: shape.rows / seconds, cpuUsPerRow: (used.user + used.system) / shape.rows };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/**
 * postgres.js behind the dialect's port, for this comparison only. Array parameters (the unnest
 * columns) travel as text[] and the statement's casts type them: postgres.js would otherwise
 * declare an array of Dates as a single timestamptz. pg sends the same text array literals.
 */
const postgresJsDriver: PostgresDriver = {
  async connect(options, role) {
    const sql = postgresJs(options, 1, role);
    const reserved = await sql.reserve();
    const pid = Number((await reserved.unsafe('select pg_backend_pid() as pid'))[0]?.pid);
    let broken = false;
    return {
      get broken() {
        return broken;
      },
      pid,
      async query(text, params) {
        try {
          return await postgresJsQuery(sql, reserved, text, params);
        } catch (error) {
          const code = String((error as { code?: string }).code ?? '');
          if (code === '' || code.startsWith('08') || code.startsWith('57') || code.startsWith('CONNECTION')) broken = true;
          throw error;
        }
      },
      async close() {
        broken = true;
        reserved.release();
        await sql.end({ timeout: 1 });
      },
    } satisfies PgConnection;
  },
  createPool(options, size) {
    const sql = postgresJs(options, size, 'reader');
    return {
      query: (text, params) => postgresJsQuery(sql, sql, text, params),
      counts: () => ({ total: size, idle: 0, waiting: 0 }),
      end: () => sql.end({ timeout: 5 }),
    };
  },
};

function postgresJs(
  options: { url: string; schema: string | undefined; connectTimeoutMs: number },
  max: number,
  role: 'writer' | 'reader',
) {
  const parseInt8 = (text: string) => (Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text));
  return postgres(options.url, {
    max,
    onnotice: () => {},
    connect_timeout: options.connectTimeoutMs / 1000,
    connection: connectionSettings(options as never, role) as never,
    types: {
      int8: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: parseInt8 },
      jsonb: { to: 3802, from: [3802, 114], serialize: (x: unknown) => x, parse: (x: string) => x },
    } as never,
  });
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return String(value);
}

async function postgresJsQuery(
  sql: postgres.Sql,
  on: postgres.Sql | postgres.ReservedSql,
  text: string,
  params: readonly unknown[] | undefined,
): Promise<PgResult> {
  if (params === undefined || params.length === 0) {
    const result = (await on.unsafe(text)) as unknown as Record<string, unknown>[] | Record<string, unknown>[][];
    const last = (Array.isArray(result[0]) ? result[result.length - 1] : result) as Record<string, unknown>[] & { count?: number };
    return { rows: [...last], rowCount: last.count ?? last.length };
  }
  const values = params.map((p) => (Array.isArray(p) ? sql.array(p.map(asText) as never[], 25) : p));
  const rows = (await on.unsafe(text, values as never[], { prepare: true })) as unknown as Record<string, unknown>[] & { count?: number };
  return { rows: [...rows], rowCount: rows.count ?? rows.length };
}

const files = defineTable('media_files', {
  columns: { path: 'text', size: 'integer', status: 'text', meta: 'json', updatedAt: 'timestamp' },
  primaryKey: 'path',
  indexes: [['status', 'updatedAt']],
});

function op(codec: RowCodec, command: WriteCommand): WriteOp {
  const now = performance.now();
  return { codec, command, nonBlocking: false, deadline: now + 30_000, enqueuedAt: now, epoch: 0, settle() {} };
}

/** One round of dialect-level shapes for one driver; each driver writes its own key range. */
async function dialectShapes(
  dialect: PostgresDialect,
  prefix: string,
): Promise<Record<string, { rowsPerSec: number; cpuUsPerRow: number }>> {
  const codec = new RowCodec(files, dialect.adapter.codec);
  const path = (i: number) => `/${prefix}/${i}`;
  const timedShape = async (count: number, fn: () => Promise<void>) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await fn();
    const used = process.cpuUsage(cpu);
    return { rowsPerSec: count / ((performance.now() - started) / 1000), cpuUsPerRow: (used.user + used.system) / count };
  };
  const batches = 10;
  const inserts = await timedShape(batches * ROWS, async () => {
    for (let b = 0; b < batches; b++) {
      const ops = Array.from({ length: ROWS }, (_, i) =>
        op(codec, codec.encodeInsert({ path: path(b * ROWS + i), size: i, status: 'pending', meta: { i }, updatedAt: new Date() })),
      );
      await dialect.executeBatch(ops, undefined);
    }
  });
  const updates = await timedShape(ROWS, async () => {
    const ops = Array.from({ length: ROWS }, (_, i) =>
      op(codec, { kind: 'update', key: codec.encodeKey(path(i)), patch: codec.encodePatch({ size: -i }) }),
    );
    await dialect.executeBatch(ops, undefined);
  });
  const pending = parseFilter(codec, { status: 'pending' });
  const cas = await timedShape(ROWS, async () => {
    const ops = Array.from({ length: ROWS }, (_, i) =>
      op(codec, { kind: 'update', key: codec.encodeKey(path(ROWS + i)), patch: codec.encodePatch({ status: 'done' }), where: pending }),
    );
    await dialect.executeBatch(ops, undefined);
  });
  const reads = 4000;
  let next = 0;
  const gets = await timedShape(reads, async () => {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < reads) await dialect.getByKey(codec, codec.encodeKey(path((next++ * 7919) % (batches * ROWS))));
      }),
    );
  });
  return { dialectInsertBatch: inserts, dialectUpdateBatch: updates, dialectCasBatch: cas, dialectGetByKey: gets };
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.query(`create schema ${schema}`);
  await admin.query(
    `create table ${schema}.t (id bigint primary key, name text collate "C" not null, score float8, meta jsonb, at timestamptz)`,
  );
  const runners = [pgRunner(), postgresJsRunner()];
  const samples: Record<string, Record<string, { rowsPerSec: number[]; cpuUsPerRow: number[] }>> = {};
  const record = (shape: string, driver: string, s: { rowsPerSec: number; cpuUsPerRow: number }) => {
    samples[shape] ??= {};
    samples[shape][driver] ??= { rowsPerSec: [], cpuUsPerRow: [] };
    const slot = samples[shape][driver];
    slot.rowsPerSec.push(s.rowsPerSec);
    slot.cpuUsPerRow.push(s.cpuUsPerRow);
  };
  try {
    for (const runner of runners) await runner.pooled('select 1', []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, shape] of Object.entries(SHAPES)) {
        for (const runner of round % 2 === 0 ? runners : [...runners].reverse()) {
          record(name, runner.name, await sample(runner, shape));
        }
      }
      await admin.query(`truncate ${schema}.t`);
    }
    const drivers: [string, PostgresDriver][] = [
      ['pg', pgDriver],
      ['postgres.js', postgresJsDriver],
    ];
    const dialects = await Promise.all(
      drivers.map(async ([name, driver]) => {
        const dialect = await PostgresDialect.open({ url, schema, poolSize: 8, durability: 'process-crash', driver });
        return { name, dialect };
      }),
    );
    await dialects[0]?.dialect.migrate([files], 1, []);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const { name, dialect } of round % 2 === 0 ? dialects : [...dialects].reverse()) {
          for (const [shape, s] of Object.entries(await dialectShapes(dialect, `${name}-${round}`))) record(shape, name, s);
        }
        await admin.query(`truncate ${schema}.media_files`);
      }
    } finally {
      for (const { dialect } of dialects) await dialect.close();
    }
  } finally {
    for (const runner of runners) await runner.end();
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  }
  const results = Object.fromEntries(
    Object.entries(samples).map(([shape, byDriver]) => [
      shape,
      Object.fromEntries(
        Object.entries(byDriver).map(([driver, s]) => [
          driver,
          { rowsPerSec: Math.round(median(s.rowsPerSec)), clientCpuUsPerRow: Number(median(s.cpuUsPerRow).toFixed(2)) },
        ]),
      ),
    ]),
  );
  console.log(
    JSON.stringify({ date: new Date().toISOString(), url: url.replace(/\/\/[^@]*@/, '//'), rounds: ROUNDS, medians: results }, null, 2),
  );
}

await main();
