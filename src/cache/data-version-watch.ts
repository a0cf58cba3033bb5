import BetterSqlite3 from 'better-sqlite3';

/** Where a database's commit counter comes from; changes when another connection commits. */
export interface DataVersionSource {
  read(): number;
  close(): void;
  /** True when this process's own commits change the counter too (a separate connection). */
  readonly seesOwnCommits: boolean;
}

/**
 * Picks a data_version source from what the dialect offers, by capability: a `dataVersion()`
 * read on the writer connection (own commits invisible, so only other processes flush the
 * cache), else a small read-only connection of our own on the dialect's `file` (every commit,
 * ours included, counts as a possible foreign change: correct, but flushes more often).
 * PostgreSQL offers neither: other instances are covered by the Redis channel instead.
 */
export function dataVersionSource(dialect: object): DataVersionSource | undefined {
  const offered = dialect as { dataVersion?: unknown; file?: unknown };
  if (typeof offered.dataVersion === 'function') {
    const read = offered.dataVersion.bind(dialect) as () => number;
    return { read, close() {}, seesOwnCommits: false };
  }
  if (typeof offered.file === 'string' && offered.file !== ':memory:') {
    const connection = new BetterSqlite3(offered.file, { readonly: true, fileMustExist: true, timeout: 0 });
    const statement = connection.prepare('PRAGMA data_version').pluck();
    return {
      read: () => statement.get() as number,
      close: () => connection.close(),
      seesOwnCommits: true,
    };
  }
  return undefined;
}

/**
 * Checks data_version on reads, at most once per interval, so a commit made elsewhere is noticed
 * within the interval of the next read. A read is a few microseconds; between checks a read pays
 * one clock comparison.
 */
export class DataVersionWatch {
  readonly #source: DataVersionSource;
  readonly #intervalMs: number;
  readonly #onChange: () => void;
  #due = 0;
  #version: number | undefined;
  checks = 0;
  changes = 0;
  failures = 0;

  constructor(source: DataVersionSource, intervalMs: number, onChange: () => void) {
    this.#source = source;
    this.#intervalMs = intervalMs;
    this.#onChange = onChange;
    this.#version = this.#read();
  }

  get seesOwnCommits(): boolean {
    return this.#source.seesOwnCommits;
  }

  /** Cheap unless the interval has passed. */
  maybeCheck(): void {
    if (performance.now() >= this.#due) this.check();
  }

  check(): void {
    this.#due = performance.now() + this.#intervalMs;
    this.checks++;
    const version = this.#read();
    // An unreadable counter (a lock during WAL recovery) may hide a change: assume there was one.
    if (version === undefined || version !== this.#version) {
      this.#version = version;
      this.changes++;
      this.#onChange();
    }
  }

  close(): void {
    this.#source.close();
  }

  #read(): number | undefined {
    try {
      return this.#source.read();
    } catch {
      this.failures++;
      return undefined;
    }
  }
}
