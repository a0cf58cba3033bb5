import pg from 'pg';
import postgres from 'postgres';
import type { Window } from './measure.js';
import { type MediaRecord, mediaRow, sequentialPath } from './media-table.js';

/**
 * Hand-written inserts of the media_files rows in 1,000-row transactions on one connection, with
 * either driver: what a service that batches its own writes would do. BEGIN, the INSERT and COMMIT
 * are awaited one after another (three round trips), the way such code is written. Rows are built
 * inside the timed loop with the same mediaRow() the Sluice side calls.
 *
 * Two statement shapes:
 * - values: `INSERT … VALUES ($1, …, $11), …` for 1,000 rows (11,000 parameters), prepared once;
 * - unnest: `INSERT … SELECT * FROM unnest($1::text[], …)`, one array parameter per column (the
 *   shape Sluice sends).
 */
export const TX_ROWS = 1000;
export type RawDriver = 'pg' | 'postgres.js';
export type RawShape = 'values' | 'unnest';

export interface PhaseFigures {
  readonly rowsPerSecond: number;
  /** Client CPU (user + system, all threads of this process) per row over the measured window. */
  readonly cpuUsPerRow: number;
}

const COLUMNS = 'path, file_name, dock_sn, size, file_hash, download_status, transfer_status, retries, meta, created_at, updated_at';
const WIDTH = 11;

const VALUES_SQL = `insert into media_files (${COLUMNS}) values ${Array.from(
  { length: TX_ROWS },
  (_, r) => `(${Array.from({ length: WIDTH }, (_, c) => `$${r * WIDTH + c + 1}`).join(', ')})`,
).join(', ')}`;

const UNNEST_SQL = `insert into media_files (${COLUMNS}) select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[]::jsonb[], $10::timestamptz[], $11::timestamptz[])`;

/** CPU used between the first moment inside the measured window and stop(). */
export class CpuMeter {
  readonly #window: Window;
  #start: NodeJS.CpuUsage | undefined;
  #used: NodeJS.CpuUsage | undefined;

  constructor(window: Window) {
    this.#window = window;
  }

  tick(now = performance.now()): void {
    if (this.#start === undefined && now >= this.#window.startsAt) this.#start = process.cpuUsage();
  }

  stop(): void {
    if (this.#start !== undefined && this.#used === undefined) this.#used = process.cpuUsage(this.#start);
  }

  perRow(rows: number): number {
    return this.#used === undefined || rows === 0 ? Number.NaN : (this.#used.user + this.#used.system) / rows;
  }
}

function rowsFrom(first: number): MediaRecord[] {
  const rows = new Array<MediaRecord>(TX_ROWS);
  for (let i = 0; i < TX_ROWS; i++) rows[i] = mediaRow(sequentialPath(first + i), first + i);
  return rows;
}

/** postgres.js serialises a jsonb parameter itself (a string would be stored as a JSON string), pg takes the text. */
function flatParams(rows: readonly MediaRecord[], driver: RawDriver): unknown[] {
  const json = driver === 'pg';
  const params = new Array<unknown>(rows.length * WIDTH);
  let p = 0;
  for (const r of rows) {
    params[p++] = r.path;
    params[p++] = r.fileName;
    params[p++] = r.dockSn;
    params[p++] = r.size;
    params[p++] = r.fileHash;
    params[p++] = r.downloadStatus;
    params[p++] = r.transferStatus;
    params[p++] = r.retries;
    params[p++] = json ? JSON.stringify(r.meta) : r.meta;
    params[p++] = r.createdAt;
    params[p++] = r.updatedAt;
  }
  return params;
}

function columnParams(rows: readonly MediaRecord[]): unknown[][] {
  return [
    rows.map((r) => r.path),
    rows.map((r) => r.fileName),
    rows.map((r) => r.dockSn),
    rows.map((r) => r.size),
    rows.map((r) => r.fileHash),
    rows.map((r) => r.downloadStatus),
    rows.map((r) => r.transferStatus),
    rows.map((r) => r.retries),
    rows.map((r) => JSON.stringify(r.meta)),
    rows.map((r) => r.createdAt),
    rows.map((r) => r.updatedAt),
  ];
}

/** Element types postgres.js is told for each unnest array (pg infers them from the statement's casts). */
const ELEMENT_OIDS = [25, 25, 25, 20, 25, 25, 25, 20, 25, 1184, 1184];

/**
 * Inserts 1,000-row transactions on one connection until the window closes; keys start at `first`.
 * `autocommit` (pg only) sends the INSERT alone, without BEGIN and COMMIT around it.
 */
export async function rawTransactions(
  url: string,
  schema: string,
  driver: RawDriver,
  shape: RawShape,
  window: Window,
  first: number,
  autocommit = false,
): Promise<PhaseFigures> {
  const cpu = new CpuMeter(window);
  let next = first;
  const batches = async (send: (rows: MediaRecord[]) => Promise<void>) => {
    while (window.running()) {
      cpu.tick();
      const rows = rowsFrom(next);
      next += TX_ROWS;
      await send(rows);
      window.add(TX_ROWS);
    }
    cpu.stop();
  };
  if (driver === 'pg') {
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      const name = `raw_${shape}`;
      const text = shape === 'values' ? VALUES_SQL : UNNEST_SQL;
      await batches(async (rows) => {
        const values = shape === 'values' ? flatParams(rows, driver) : columnParams(rows);
        // One statement is its own transaction: one round trip per 1,000 rows instead of three.
        if (autocommit) return void (await client.query({ name, text, values }));
        await client.query('begin');
        await client.query({ name, text, values });
        await client.query('commit');
      });
    } finally {
      await client.end();
    }
  } else {
    const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { search_path: schema } });
    const reserved = await sql.reserve();
    try {
      await batches(async (rows) => {
        const params =
          shape === 'values'
            ? flatParams(rows, driver)
            : columnParams(rows).map((column, i) => sql.array(column as never[], ELEMENT_OIDS[i]));
        await reserved.unsafe('begin');
        await reserved.unsafe(shape === 'values' ? VALUES_SQL : UNNEST_SQL, params as never[], { prepare: true });
        await reserved.unsafe('commit');
      });
    } finally {
      reserved.release();
      await sql.end({ timeout: 5 });
    }
  }
  return { rowsPerSecond: window.perSecond, cpuUsPerRow: cpu.perRow(window.counted) };
}
