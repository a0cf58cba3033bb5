import { SluiceError } from '../index.js';

export interface RecentError {
  readonly at: string;
  readonly source: string;
  readonly code: string;
  readonly message: string;
}

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
    this.push({ at: new Date().toISOString(), source, code, message: message.slice(0, 300) });
  }

  push(entry: RecentError): void {
    this.#entries.push(entry);
    if (this.#entries.length > this.#capacity) this.#entries.shift();
  }

  list(): readonly RecentError[] {
    return [...this.#entries].reverse();
  }
}
