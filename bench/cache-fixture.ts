import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Redis } from 'ioredis';
import { type Database, defineTable, open, type TableCachePolicyInput } from '../src/index.js';

/** The benchmark row: a handful of columns like a typical entity. */
export function benchTable(cache?: TableCachePolicyInput) {
  return defineTable('bench_rows', {
    columns: { id: 'integer', name: 'text', size: 'integer', status: 'text', score: 'real' },
    primaryKey: 'id',
    ...(cache ? { cache } : {}),
  });
}

export const RAW_SELECT = 'select id, name, size, status, score from bench_rows where id = ?';

export interface Fixture {
  readonly file: string;
  remove(): void;
}

/** A SQLite file with `rows` rows, written by raw better-sqlite3 before Sluice opens it. */
export async function fixture(rows: number): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cache-bench-'));
  const file = join(dir, 'bench.db');
  const db = await open({ url: `sqlite:${file}`, tables: [benchTable()] });
  await db.migrate();
  await db.close();
  const raw = new BetterSqlite3(file);
  const insert = raw.prepare('insert into bench_rows (id, name, size, status, score) values (?, ?, ?, ?, ?)');
  raw.transaction(() => {
    for (let id = 0; id < rows; id++) insert.run(id, `file-${id}.bin`, id * 17, id % 3 === 0 ? 'completed' : 'pending', id / 7);
  })();
  raw.close();
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function openCached(
  file: string,
  cache: TableCachePolicyInput | undefined,
  options: { redisUrl?: string; keyPrefix?: string; redisTimeoutMs?: number } = {},
) {
  const table = benchTable(cache);
  const db: Database = await open({ url: `sqlite:${file}`, tables: [table], cache: options });
  return { db, rows: db.table(table) };
}

export function rawReader(file: string): { select: BetterSqlite3.Statement; close(): void } {
  const raw = new BetterSqlite3(file, { readonly: true });
  return { select: raw.prepare(RAW_SELECT), close: () => raw.close() };
}

export function quantile(samples: number[], q: number): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Deletes a benchmark's Redis keys (never anything outside its own prefix). */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
