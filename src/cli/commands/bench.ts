import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Command } from 'commander';
import pg from 'pg';
import { defineTable, open, type Table } from '../../index.js';
import { parseUrl } from '../../internal.js';
import { type CommandOutcome, type CommandUi, type CommonOptions, commandAction, wholeNumber, withCommonOptions } from '../cli-command.js';
import { resolveUrl } from '../command-target.js';

interface BenchOptions extends CommonOptions {
  seconds: number;
}

/** A table of its own, in a file or schema of its own: the bench never touches the user's data. */
const benchRows = defineTable('sluice_bench_rows', {
  columns: { path: 'text', size: 'integer', status: 'text', meta: 'json?', updatedAt: 'timestamp' },
  primaryKey: 'path',
  indexes: [['status', 'updatedAt']],
});

const IN_FLIGHT = 1024;
const RAW_ROWS_PER_TX = 1000;
const GET_ROUND = 1000;
const WARMUP_MS = 500;
const GET_GOAL = 1.3;

const pathOf = (n: number) => `/media/DJI_${String(n).padStart(9, '0')}.MP4`;
const rowOf = (n: number) => ({
  path: pathOf(n),
  size: 1_000_000 + n,
  status: 'pending',
  meta: { camera: 'M3E', n },
  updatedAt: new Date(n),
});

/** The same writes and reads done by hand with the driver, as an application without Sluice would. */
interface RawDriver {
  readonly name: string;
  readonly insertShape: string;
  /** The ratio Sluice ÷ this raw insert shape should reach. */
  readonly insertGoal: number;
  /** Inserts rows from `from` until `until` (performance.now()); returns rows written after `countFrom`. */
  insertUntil(from: number, countFrom: number, until: number): Promise<number>;
  get(path: string): Promise<unknown> | unknown;
  close(): Promise<void>;
}

interface Target {
  readonly url: string;
  readonly openExtra: Record<string, unknown>;
  readonly where: string;
  raw(): Promise<RawDriver>;
  cleanup(): Promise<void>;
}

export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description(
      'insert throughput (one awaited promise per row, 1,024 in flight) and point-get latency through Sluice and through the raw driver, in the same run, on a scratch table beside --db',
    );
  withCommonOptions(command)
    .option('--seconds <s>', 'how long each measurement runs', wholeNumber(1, 600), 3)
    .action(commandAction('bench', bench));
}

async function bench(options: BenchOptions, ui: CommandUi): Promise<CommandOutcome> {
  const url = await resolveUrl(options);
  const target = await targetFor(url);
  const progress = ui.progress('bench', 4, 'measurements');
  try {
    const db = await open({ url: target.url, tables: [benchRows], ...target.openExtra });
    try {
      await db.migrate();
      const rows = db.table(benchRows);
      const sluiceInsert = await sluiceInserts(rows, options.seconds);
      progress.update(1, 'Sluice insert');
      const raw = await target.raw();
      try {
        const rawInsert = await timed(options.seconds, (countFrom, until) => raw.insertUntil(100_000_000, countFrom, until));
        progress.update(2, `${raw.name} insert`);
        const keys = Math.max(1, Math.min(sluiceInsert.written, 100_000));
        const get = await getLatencies(rows, raw, keys, options.seconds * 2);
        progress.update(4, 'get');
        const insertRatio = sluiceInsert.rowsPerSecond / rawInsert;
        const getRatio = get.sluice.p50 / get.raw.p50;
        const data = {
          db: url,
          benchedOn: target.where,
          seconds: options.seconds,
          insert: {
            sluiceRowsPerSecond: Math.round(sluiceInsert.rowsPerSecond),
            rawRowsPerSecond: Math.round(rawInsert),
            rawShape: raw.insertShape,
            ratio: round(insertRatio),
            goal: `>= ${raw.insertGoal}x raw`,
            met: insertRatio >= raw.insertGoal,
          },
          get: {
            sluiceUs: get.sluice,
            rawUs: get.raw,
            p50Ratio: round(getRatio),
            goal: `<= ${GET_GOAL}x raw latency`,
            met: getRatio <= GET_GOAL,
            samples: get.samples,
          },
        };
        const text = [
          `sluice bench on ${target.where} (${options.seconds} s per measurement)`,
          `  insert  Sluice ${fmt(sluiceInsert.rowsPerSecond)} rows/s (${IN_FLIGHT} awaited in flight)  raw ${fmt(rawInsert)} rows/s (${raw.insertShape})  ratio ${insertRatio.toFixed(2)}× (goal ≥ ${raw.insertGoal}×: ${insertRatio >= raw.insertGoal ? 'met' : 'missed'})`,
          `  get     Sluice p50 ${get.sluice.p50} µs, p99 ${get.sluice.p99} µs  raw p50 ${get.raw.p50} µs, p99 ${get.raw.p99} µs  ratio ${getRatio.toFixed(2)}× at p50 (goal ≤ ${GET_GOAL}×: ${getRatio <= GET_GOAL ? 'met' : 'missed'})`,
          'Full scenarios (update, scattered keys, 4 processes, PostgreSQL): npm run bench in a clone of the repository.',
        ].join('\n');
        return { ok: true, data, text };
      } finally {
        await raw.close();
      }
    } finally {
      await db.close();
    }
  } finally {
    progress.stop();
    await target.cleanup();
  }
}

/** Runs `work` for a warm-up then `seconds`; returns rows per second counted after the warm-up. */
async function timed(seconds: number, work: (countFrom: number, until: number) => Promise<number>): Promise<number> {
  const countFrom = performance.now() + WARMUP_MS;
  return (await work(countFrom, countFrom + seconds * 1000)) / seconds;
}

async function sluiceInserts(rows: Table<typeof benchRows>, seconds: number): Promise<{ rowsPerSecond: number; written: number }> {
  let next = 0;
  const rowsPerSecond = await timed(seconds, async (countFrom, until) => {
    let counted = 0;
    const worker = async () => {
      while (performance.now() < until) {
        const n = next++;
        await rows.insert(rowOf(n));
        if (performance.now() >= countFrom) counted++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return counted;
  });
  return { rowsPerSecond, written: next };
}

/** One awaited get at a time, alternating rounds of Sluice and raw over the same keys. */
async function getLatencies(rows: Table<typeof benchRows>, raw: RawDriver, keys: number, seconds: number) {
  const sluice: number[] = [];
  const direct: number[] = [];
  const measureFrom = performance.now() + WARMUP_MS;
  const until = measureFrom + seconds * 1000;
  for (let n = 0; performance.now() < until; n += GET_ROUND) {
    const measured = performance.now() >= measureFrom;
    for (const [into, read] of [
      [sluice, (path: string) => rows.get(path)],
      [direct, (path: string) => raw.get(path)],
    ] as const) {
      for (let i = n; i < n + GET_ROUND; i++) {
        const path = pathOf((i * 7919) % keys);
        const t0 = performance.now();
        await read(path);
        if (measured) into.push((performance.now() - t0) * 1000);
      }
    }
  }
  return { sluice: percentiles(sluice), raw: percentiles(direct), samples: sluice.length };
}

async function targetFor(url: string): Promise<Target> {
  const location = parseUrl(url);
  const tag = `sluice_bench_${process.pid}`;
  if (location.kind === 'postgres') {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    return {
      url,
      openExtra: { postgres: { schema: tag } },
      where: `PostgreSQL schema ${tag} (dropped afterwards)`,
      raw: async () => rawPostgres(url, tag),
      cleanup: async () => {
        await admin.query(`drop schema if exists ${tag} cascade`);
        await admin.end();
      },
    };
  }
  // A scratch file beside the user's database: the same disk, never the same file.
  const file = location.file === ':memory:' ? resolve(`${tag}.db`) : join(dirname(resolve(location.file)), `${tag}.db`);
  return {
    url: `sqlite:${file}`,
    openExtra: {},
    where: file,
    raw: async () => rawSqlite(file),
    cleanup: async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    },
  };
}

/** better-sqlite3 with the settings Sluice gives its writer (WAL, synchronous=NORMAL, 64 MiB cache). */
function rawSqlite(file: string): RawDriver {
  const db = new BetterSqlite3(file, { timeout: 5000 });
  db.pragma('journal_mode = wal');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  const insert = db.prepare('insert into sluice_bench_rows (path, size, status, meta, updated_at) values (?, ?, ?, ?, ?)');
  const select = db.prepare('select path, size, status, meta, updated_at from sluice_bench_rows where path = ?');
  const chunk = db.transaction((from: number) => {
    for (let n = from; n < from + RAW_ROWS_PER_TX; n++) {
      const row = rowOf(n);
      insert.run(row.path, row.size, row.status, JSON.stringify(row.meta), row.updatedAt.getTime());
    }
  });
  return {
    name: 'better-sqlite3',
    insertShape: `prepared inserts, ${RAW_ROWS_PER_TX} per transaction`,
    insertGoal: 0.8,
    insertUntil: async (from, countFrom, until) => {
      let counted = 0;
      for (let n = from; performance.now() < until; n += RAW_ROWS_PER_TX) {
        chunk(n);
        if (performance.now() >= countFrom) counted += RAW_ROWS_PER_TX;
      }
      return counted;
    },
    get: (path) => select.get(path),
    close: async () => void db.close(),
  };
}

/** pg with 8 connections, each inserting one row per statement (autocommit), as a service would. */
function rawPostgres(url: string, schema: string): RawDriver {
  const pool = new pg.Pool({ connectionString: url, max: 8, options: `-c search_path=${schema}` });
  const insertSql = 'insert into sluice_bench_rows (path, size, status, meta, updated_at) values ($1, $2, $3, $4, $5)';
  const selectSql = 'select path, size, status, meta, updated_at from sluice_bench_rows where path = $1';
  return {
    name: 'pg',
    insertShape: '8 connections, one autocommit insert per row',
    insertGoal: 6,
    insertUntil: async (from, countFrom, until) => {
      let next = from;
      let counted = 0;
      const worker = async () => {
        while (performance.now() < until) {
          const row = rowOf(next++);
          await pool.query({
            name: 'bench-insert',
            text: insertSql,
            values: [row.path, row.size, row.status, JSON.stringify(row.meta), row.updatedAt],
          });
          if (performance.now() >= countFrom) counted++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      return counted;
    },
    get: (path) => pool.query({ name: 'bench-get', text: selectSql, values: [path] }),
    close: () => pool.end(),
  };
}

function percentiles(samples: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { p50: at(0.5), p99: at(0.99) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en');
}
