import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError } from './sluice-error.js';

export interface BackoffOptions {
  /** The first wait, before jitter. */
  readonly initialMs: number;
  /** No wait grows past this. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1, maxMs: 5 };

export function delay(ms: number): Promise<void> {
  return sleep(ms);
}

/**
 * Exponential backoff with full jitter in [0.5, 1.5) of the nominal wait: processes that met the
 * same lock do not come back in step.
 */
export function backoffMs(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const nominal = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 20));
  return nominal * (0.5 + Math.random());
}

/** Calls `fn` until it stops failing with a retryable error or `timeoutMs` passes. */
export async function retryWithBackoff<T>(
  fn: () => T,
  isRetryable: (error: unknown) => boolean,
  timeoutMs: number,
  toError: (error: unknown) => SluiceError,
): Promise<T> {
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (error) {
      if (!isRetryable(error)) throw toError(error);
      if (performance.now() - started >= timeoutMs) {
        const cause = toError(error);
        throw new SluiceError('BUSY', `Gave up after ${Math.round(performance.now() - started)} ms: ${cause.message}`, { cause: error });
      }
      await sleep(backoffMs(attempt));
    }
  }
}
