import { describeValue, SluiceError } from './sluice-error.js';

/**
 * The logger port: the shape of pino's methods (`logger.warn({ event, table }, 'message')`), so a
 * pino instance plugs in as it is and nothing of pino's types reaches the engine.
 */
export type LogFn = (fields: Record<string, unknown>, message?: string) => void;

export interface SluiceLogger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

/** Levels by weight, as pino numbers them. */
const WEIGHT = { debug: 20, info: 30, warn: 40, error: 50 } as const;
type Level = keyof typeof WEIGHT;

/**
 * With no logger given, the library stays quiet but for errors, written to stderr as one line
 * each: a data layer that prints on its own is noise in the application's output.
 */
export function stderrLogger(minimum: Level = 'error'): SluiceLogger {
  const line = (level: Level) => (fields: Record<string, unknown>, message?: string) => {
    if (WEIGHT[level] < WEIGHT[minimum]) return;
    const { event, ...rest } = fields;
    const extra = Object.keys(rest).length === 0 ? '' : ` ${safeJson(rest)}`;
    process.stderr.write(`[sluice] ${level}${event ? ` ${String(event)}` : ''}: ${message ?? ''}${extra}\n`);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? String(v) : v));
  } catch {
    return '[unserialisable]';
  }
}

/**
 * What an error becomes in a log line: its code, message and table, a stack only when asked.
 * Messages name the value that was refused; unless `withValues`, that value is masked, so row
 * data never reaches a log by default.
 */
export function errorFields(error: unknown, withStack: boolean, withValues = false): Record<string, unknown> {
  if (SluiceError.is(error)) {
    let message = error.message;
    if (!withValues && error.value !== undefined) message = message.split(describeValue(error.value)).join('‹value›');
    const fields: Record<string, unknown> = { code: error.code, message };
    if (error.table !== undefined) fields.table = error.table;
    if (error.column !== undefined) fields.column = error.column;
    if (withStack) fields.stack = error.stack;
    return fields;
  }
  if (error instanceof Error)
    return withStack ? { message: error.message, name: error.name, stack: error.stack } : { message: error.message, name: error.name };
  return { message: String(error) };
}

/**
 * Repeated failures in one line per distinct error per interval: the first at once, the rest as
 * one summary with a count when the interval ends. A detection loop rerun against a stale schema
 * printed 183 stack traces, one per failed enqueue; this prints two lines.
 */
export class LogCoalescer {
  readonly #logger: SluiceLogger;
  readonly #intervalMs: number;
  readonly #stacks: boolean;
  readonly #values: boolean;
  readonly #seen = new Map<string, { count: number; fields: Record<string, unknown>; level: Level }>();
  #timer: NodeJS.Timeout | undefined;
  /** Lines written and repeats folded into summaries: what a storm of failures cost the log. */
  lines = 0;
  folded = 0;

  constructor(logger: SluiceLogger, intervalMs: number, options: { stacks: boolean; values: boolean }) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#stacks = options.stacks;
    this.#values = options.values;
  }

  /** The logger itself, for events that are not repeated failures (open, close, migrations). */
  get logger(): SluiceLogger {
    return this.#logger;
  }

  error(error: unknown, fields: Record<string, unknown> = {}): void {
    const described = { ...fields, ...errorFields(error, this.#stacks, this.#values) };
    this.log(
      'error',
      `${String(described.code ?? described.name ?? '')}|${String(described.message).slice(0, 300)}`,
      described,
      String(described.message),
    );
  }

  /** Logs under `key` unless the same key was logged this interval; then it only counts. */
  log(level: Level, key: string, fields: Record<string, unknown>, message: string): void {
    const seen = this.#seen.get(key);
    if (seen) {
      seen.count++;
      this.folded++;
      return;
    }
    this.#seen.set(key, { count: 0, fields, level });
    this.lines++;
    this.#logger[level](fields, message);
    this.#timer ??= setTimeout(() => this.#summarise(), this.#intervalMs);
    this.#timer.unref?.();
  }

  #summarise(): void {
    this.#timer = undefined;
    const entries = [...this.#seen];
    this.#seen.clear();
    for (const [, { count, fields, level }] of entries) {
      if (count === 0) continue;
      this.lines++;
      this.#logger[level](
        { ...fields, repeated: count, intervalMs: this.#intervalMs },
        `${String(fields.message ?? fields.event ?? '')} (and ${count} more like it in ${this.#intervalMs / 1000} s)`,
      );
    }
  }

  /** Writes pending summaries now (close()). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#summarise();
  }
}
