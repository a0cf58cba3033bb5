/**
 * The connection port (postgres-connection.ts) served by pg (node-postgres).
 *
 * Driver: pg (node-postgres), chosen by bench/postgres-driver.ts, which runs both drivers in one
 * run, shape by shape, alternating, and reports medians with the client CPU each spends per row.
 * Its second half runs this very dialect with each driver behind the connection port
 * (postgres-connection.ts). 2026-11-22, 2 cores shared with the server and with other jobs
 * (load ~5, so rows/s are noisy; CPU µs/row is the steadier figure), PostgreSQL 15, 5 rounds:
 *
 *   shape (rows/s, client CPU µs per row)          pg               postgres.js
 *   1,000-row unnest insert per transaction        38,415   5.0     27,531   5.9
 *   1,000 awaited inserts in one transaction        1,765  90       2,404  143
 *   the same, each in SAVEPOINT / RELEASE           1,784  183      1,177  374
 *   1,000 inserts issued at once (pjs pipelines)    2,238   72      2,215  122
 *   autocommit inserts from 8 connections           1,317  109      1,491  112
 *   dialect: 1,000-op insert batch                 26,691   5.2     31,399   5.2
 *   dialect: 1,000-op update batch                  2,633  117      2,925  131
 *   dialect: 1,000-op compare-and-set batch         2,466  122      3,067  119
 *   dialect: point read by key, 16 in flight        4,755   99      9,828   51
 *
 * (An earlier run on a quieter machine, best of 2: unnest 101,724 vs 87,481 rows/s; awaited
 * 8,439 vs 6,870; savepoints 4,644 vs 2,817.) The group-commit insert path, which carries the
 * gate's throughput, costs the same with both; per-statement work inside the writer's
 * transaction (updates, compare-and-set, savepoints) costs pg up to half the client CPU, and
 * postgres.js's pipelining buys little because the server's CPU bounds per-statement work here.
 * postgres.js is cheaper on pooled point reads. pg wins on the write path and on what the
 * reliability of the writer rests on: its client reports the connection's end and error as
 * events and knows its backend's pid from the start, which settling a COMMIT whose reply was lost
 * needs (postgres-commit.ts); its type parsers are given per client and pool, never global.
 * Either stays behind the small port, so the choice can be revisited by rerunning the bench.
 * Rerun 2026-12-01 (2 rounds, load ~2) after the writer began pipelining (pg's `pipeline`
 * option) and writing its array literals itself: dialect 1,000-op insert batch pg 77,493 rows/s
 * at 6.3 µs/row (59,854 and 8.8 before), postgres.js 66,494 at 6.0; pg stays.
 *
 */
import pg from 'pg';
import { POSTGRES_TEXT_PARSERS } from './postgres-codec.js';
import {
  connectionSettings,
  type PgConnection,
  type PgConnectionOptions,
  type PgPool,
  type PgResult,
  type PostgresDriver,
  transactionPrologue,
} from './postgres-connection.js';
import { TransactionBarrier } from './transaction-barrier.js';

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    return (format !== 'binary' && POSTGRES_TEXT_PARSERS.get(oid)) || pg.types.getTypeParser(oid, format);
  },
};

function clientConfig(options: PgConnectionOptions, role: 'writer' | 'reader'): pg.ClientConfig {
  const { application_name, ...settings } = connectionSettings(options, role);
  const startup = Object.entries(settings);
  return {
    // The writer's queries go out as soon as they are issued, each behind the one before, instead
    // of one round trip each: the batch runner sends a SAVEPOINT and the statement it guards, or
    // BEGIN and a batch's first insert, together (postgres-batch.ts). The server still runs them
    // one after another, and each gets its own result or error (a Sync follows each).
    // Behind a pooler in transaction mode nothing may be sent behind a statement that may end a
    // transaction: the dialect never does, and the writer's TransactionBarrier makes sure. The
    // readers pipeline when each read is BEGIN, the read and COMMIT sent together (readInTransaction).
    ...(role === 'writer' || transactionPrologue(options, role) !== '' ? { pipeline: true } : {}),
    connectionString: options.url,
    types,
    // Startup options: `-c name=value` each; values here hold no spaces (the schema is a plain identifier).
    ...(startup.length > 0 ? { options: startup.map(([name, value]) => `-c ${name}=${value}`).join(' ') } : {}),
    ...(application_name === undefined ? {} : { application_name }),
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
  };
}

function toResult(result: pg.QueryResult | pg.QueryResult[]): PgResult {
  // A simple query of several statements answers with one result each; the last one matters.
  const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
  return { rows: last.rows, rowCount: last.rowCount ?? 0 };
}

function queryConfig(text: string, params: readonly unknown[] | undefined, name: string | undefined): pg.QueryConfig {
  return name === undefined ? { text, values: params as unknown[] } : { text, values: params as unknown[], name };
}

/**
 * node-postgres behind the port (the driver chosen in postgres-dialect.ts). Type parsers are
 * given to each client and pool, never installed on the driver's globals.
 */
export const pgDriver: PostgresDriver = {
  async listen(options, channel, onMessage, onEnd) {
    // Named for its schema, so an operator (or a test) can tell one database's listener from another's.
    const client = new pg.Client({
      ...clientConfig(options, 'reader'),
      application_name: `sluice listener ${options.schema ?? ''}`.trim().slice(0, 63),
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      onEnd();
    };
    client.on('error', end);
    client.on('end', end);
    client.on('notification', (message) => onMessage(message.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      ended = true;
      client.end().catch(() => {});
      throw error;
    }
    return {
      pid: (client as unknown as { processID: number }).processID,
      close: async () => {
        ended = true;
        await client.end().catch(() => {});
      },
    };
  },
  async connect(options, role): Promise<PgConnection> {
    const client = new pg.Client(clientConfig(options, role));
    let broken = false;
    // Without a listener an 'error' from an idle socket (server restart) would crash the process.
    client.on('error', () => {
      broken = true;
    });
    client.on('end', () => {
      broken = true;
    });
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    let inFlight = 0;
    const barrier = options.pooler ? new TransactionBarrier() : undefined;
    const send = (text: string, params: readonly unknown[] | undefined, name: string | undefined) =>
      client.query(queryConfig(text, params, name));
    return {
      get broken() {
        return broken;
      },
      pid: (client as unknown as { processID: number }).processID,
      async query(text, params, name) {
        inFlight++;
        try {
          return toResult(await (barrier ? barrier.run(text, () => send(text, params, name)) : send(text, params, name)));
        } finally {
          inFlight--;
        }
      },
      async close() {
        broken = true;
        const ended = client.end().catch(() => {});
        // A pipelining client's end() waits for the queries on the wire; a connection given up on
        // (its state in doubt) is cut at once instead, as a client that does not pipeline does.
        if (inFlight > 0) (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        await ended;
      },
    };
  },

  createPool(options, size): PgPool {
    const pool = new pg.Pool({ ...clientConfig(options, 'reader'), max: size, idleTimeoutMillis: 30_000 });
    // An idle reader dropped by the server is removed by the pool; the event only needs a listener.
    pool.on('error', () => {});
    const prologue = transactionPrologue(options, 'reader');
    return {
      async query(text, params, name) {
        if (prologue !== '') return readInTransaction(pool, prologue, queryConfig(text, params, undefined));
        return toResult(await pool.query(queryConfig(text, params, name)));
      },
      counts: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      end: () => pool.end(),
    };
  },
};

/**
 * A read behind a pooler: outside a transaction it could run on any server connection, with any
 * search_path, so it runs in one of its own, the settings first. The three statements go out
 * together on the pipelining client: one round trip, as a bare read takes.
 */
async function readInTransaction(pool: pg.Pool, prologue: string, query: pg.QueryConfig): Promise<PgResult> {
  const client = await pool.connect();
  const [begun, read, ended] = await Promise.allSettled([client.query(`begin; ${prologue}`), client.query(query), client.query('commit')]);
  // A connection whose transaction may still be open must not serve the next read: it is closed.
  client.release(ended.status === 'rejected' ? (ended.reason as Error) : undefined);
  for (const step of [begun, read, ended]) if (step.status === 'rejected') throw step.reason;
  return toResult((read as PromiseFulfilledResult<pg.QueryResult>).value);
}
