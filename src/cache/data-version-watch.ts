import type { Dialect } from '../dialect/dialect.js';

/** Where a database's commit counter comes from; changes when another connection commits. */
export interface DataVersionSource {
  read(): number;
}

/**
 * The dialect's data_version, when its capabilities offer one: read on the writer connection, so
 * our own commits leave it unchanged and only other processes' commits flush the cache.
 * PostgreSQL offers none: other instances are covered by the Redis channel instead.
 */
export function dataVersionSource(dialect: Pick<Dialect, 'adapter' | 'dataVersion'>): DataVersionSource | undefined {
  const read = dialect.dataVersion;
  if (!dialect.adapter.capabilities.dataVersion || read === undefined) return undefined;
  return { read: read.bind(dialect) };
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

  /** Cheap unless the interval has passed; returns the clock it read (performance.now()). */
  maybeCheck(): number {
    const now = performance.now();
    if (now >= this.#due) this.check();
    return now;
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

  #read(): number | undefined {
    try {
      return this.#source.read();
    } catch {
      this.failures++;
      return undefined;
    }
  }
}
