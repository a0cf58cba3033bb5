import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../../core/sluice-error.js';
import type { JsRow } from '../../schema/row-codec.js';
import { classifySqliteError } from './sqlite-errors.js';

/**
 * The worker's code, plain CommonJS evaluated from this string: it then runs the same from the
 * TypeScript sources under the test runner and from the built package, with no second entry
 * point to ship. Its connection is set up as the dialect's reader is (query_only, the same cache,
 * case-sensitive LIKE), except that it may block on a lock: waiting is what this thread is for.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
db.pragma('cache_size = -' + workerData.cacheKiB);
db.pragma('temp_store = MEMORY');
db.pragma('case_sensitive_like = ON');
db.pragma('query_only = ON');
const statements = new Map();
parentPort.on('message', (request) => {
  if (request === 'close') { db.close(); parentPort.close(); return; }
  try {
    let statement = statements.get(request.sql);
    if (!statement) { statement = db.prepare(request.sql); statements.set(request.sql, statement); }
    parentPort.postMessage({ id: request.id, rows: statement.all(request.params) });
  } catch (error) {
    parentPort.postMessage({ id: request.id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

export interface ThreadReaderOptions {
  readonly file: string;
  readonly cacheKiB: number;
  /** How long a read may wait for a lock (WAL recovery by another process) before it fails as BUSY. */
  readonly busyTimeoutMs: number;
}

interface Waiting {
  readonly resolve: (rows: JsRow[]) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Reads on a connection of their own in a worker thread, for the few reads that are bulk work:
 * the sync shipper's batches, where SQLite writes each batch as COPY text (5,000 rows and more).
 * On the dialect's reader that work ran on the event loop between the write gate's batches and
 * took a quarter of the writers' thread (profiled: 23.7 % in copyText with sync on). A read here
 * starts after every commit that resolved before it was asked, so it sees them, as the reader did.
 * The thread starts on the first read; once closed, reads go back to `fallback`.
 */
export class SqliteThreadReader {
  readonly #options: ThreadReaderOptions;
  readonly #fallback: (sql: string, params: readonly unknown[]) => Promise<JsRow[]>;
  readonly #waiting = new Map<number, Waiting>();
  #worker: Worker | undefined;
  #next = 0;
  #closed = false;

  constructor(options: ThreadReaderOptions, fallback: (sql: string, params: readonly unknown[]) => Promise<JsRow[]>) {
    this.#options = options;
    this.#fallback = fallback;
  }

  selectAll(sql: string, params: readonly unknown[]): Promise<JsRow[]> {
    if (this.#closed) return this.#fallback(sql, params);
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<JsRow[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, sql, params });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    await exited;
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...this.#options, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    // A shipper that is never closed must not keep the process alive for its reads.
    worker.unref();
    worker.on('message', (answer: { id: number; rows?: JsRow[]; error?: { message: string; code?: string } }) => {
      const waiting = this.#waiting.get(answer.id);
      if (waiting === undefined) return;
      this.#waiting.delete(answer.id);
      if (answer.error === undefined) waiting.resolve(restoreBuffers(answer.rows ?? []));
      else waiting.reject(classifySqliteError(Object.assign(new Error(answer.error.message), { code: answer.error.code })));
    });
    worker.on('error', (error) => this.#failAll(error));
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new SluiceError('UNAVAILABLE', 'The SQLite read thread exited; the next read starts another.'));
    });
    this.#worker = worker;
    return worker;
  }

  #failAll(error: unknown): void {
    const failed = classifySqliteError(error);
    for (const waiting of this.#waiting.values()) waiting.reject(failed);
    this.#waiting.clear();
  }
}

/** Structured cloning turns a Buffer into a plain Uint8Array; callers read blobs as Buffers. */
function restoreBuffers(rows: JsRow[]): JsRow[] {
  for (const row of rows) {
    for (const name in row) {
      const value = row[name];
      if (value instanceof Uint8Array && !Buffer.isBuffer(value)) row[name] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return rows;
}
