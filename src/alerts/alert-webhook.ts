import { backoffMs } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';

/** What the webhook receives: one JSON object per event. */
export interface AlertEvent {
  readonly rule: string;
  readonly state: 'firing' | 'resolved';
  readonly severity: string;
  readonly value: number | null;
  readonly message: string;
  readonly at: string;
  readonly instance: string;
}

export interface WebhookOptions {
  readonly url: string;
  /** Each POST's own timeout. */
  readonly timeoutMs: number;
  /** Tries per event before it is given up (and counted). */
  readonly attempts: number;
  /** Events waiting at most; past it the oldest goes (counted), so a dead receiver cannot grow memory. */
  readonly maxQueue: number;
}

/**
 * Posts alert events one at a time, in order, off every write path: an event is queued and the
 * caller returns. A receiver that fails is retried with backoff; one that hangs costs each POST
 * its timeout, never a write.
 */
export class AlertWebhook {
  readonly #options: WebhookOptions;
  readonly #queue: AlertEvent[] = [];
  readonly #onError: (error: unknown) => void;
  #sending: Promise<void> | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  delivered = 0;
  failed = 0;
  dropped = 0;

  constructor(options: WebhookOptions, onError: (error: unknown) => void) {
    this.#options = options;
    this.#onError = onError;
  }

  get pending(): number {
    return this.#queue.length;
  }

  send(event: AlertEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#options.maxQueue) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(event);
    this.#sending ??= this.#drain().finally(() => {
      this.#sending = undefined;
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const event = this.#queue[0] as AlertEvent;
      let sent = false;
      for (let attempt = 0; attempt < this.#options.attempts && !this.#closed; attempt++) {
        try {
          const response = await fetch(this.#options.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(event),
            signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs), this.#abort.signal]),
          });
          await response.body?.cancel();
          if (response.ok) {
            sent = true;
            break;
          }
          throw new SluiceError('UNAVAILABLE', `HTTP ${response.status}`);
        } catch (error) {
          if (attempt === this.#options.attempts - 1) {
            this.#onError(
              new SluiceError(
                'UNAVAILABLE',
                `Alert webhook ${this.#options.url} refused "${event.rule}" (${event.state}) ${this.#options.attempts} times: ${(error as Error).message}. Check that the receiver is up; later alerts are still sent.`,
                { cause: error },
              ),
            );
          } else if (!this.#closed) {
            await this.#pause(backoffMs(attempt, { initialMs: 200, maxMs: 10_000 }));
          }
        }
      }
      if (this.#queue[0] === event) this.#queue.shift();
      if (sent) this.delivered++;
      else this.failed++;
    }
  }

  /** Waits `ms`, or less if close() comes first. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  /** Gives what is queued up to `graceMs` to go out, then stops. */
  async close(graceMs: number): Promise<void> {
    if (this.#sending) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#sending, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.#closed = true;
    this.#abort.abort();
    await this.#sending;
  }
}
