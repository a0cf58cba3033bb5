import { SluiceError } from '../index.js';
import { truncate } from './http-errors.js';

export interface RecentError {
  readonly at: string;
  readonly source: string;
  readonly code: string;
  readonly message: string;
}

/**
 * The longest message, source and code an entry keeps. Every path in (failed requests, the
 * host's onError, sync's refusals, the feed's own counts) passes through push(), so a request
 * or an error of any size stores a few hundred bytes and the dashboard's frames stay small.
 */
export const MAX_ENTRY_CHARS = { message: 300, source: 200, code: 40 } as const;

/** The last errors the dashboard shows: failed requests, and whatever the host reports (onError). */
export class RecentErrors {
  readonly #entries: RecentError[] = [];
  readonly #capacity: number;

  constructor(capacity = 20) {
    this.#capacity = capacity;
  }

  record(source: string, error: unknown): void {
    const code = SluiceError.is(error) ? error.code : ((error as { code?: unknown })?.code?.toString() ?? 'ERROR');
    const message = error instanceof Error ? error.message : String(error);
    this.push({ at: new Date().toISOString(), source, code, message });
  }

  push(entry: RecentError): void {
    this.#entries.push({
      at: String(entry.at).slice(0, 40),
      source: truncate(String(entry.source), MAX_ENTRY_CHARS.source),
      code: truncate(String(entry.code), MAX_ENTRY_CHARS.code),
      message: truncate(String(entry.message), MAX_ENTRY_CHARS.message),
    });
    if (this.#entries.length > this.#capacity) this.#entries.shift();
  }

  list(): readonly RecentError[] {
    return [...this.#entries].reverse();
  }
}
