import { backoffMs } from '../core/backoff.js';
import { SluiceError } from '../core/sluice-error.js';
import { describePgError, type TargetFailure, targetFailure } from '../dialect/postgres/postgres-sync-errors.js';

/** Another process holds this node's shipping lock: the target answered, this round waits its turn. */
export class ShipperLockedError extends SluiceError {
  constructor(message: string) {
    super('BUSY', message);
  }
}

/** How the shipper answers one failed attempt. */
export interface FailureAnswer {
  /** The failures metric's label. */
  readonly reason: 'locked' | 'local' | TargetFailure;
  /** The target's state now; undefined when the failure was this file's own (it says nothing of the target). */
  readonly target: 'up' | TargetFailure | undefined;
  /** For status().lastError; undefined leaves it as it is. */
  readonly message: string | undefined;
  /** What the flushes waiting now are told; undefined lets them wait on. */
  readonly flushError: SluiceError | undefined;
  /** The wait before the next attempt. */
  readonly waitMs: number;
}

/**
 * The answer to a failure, given how many attempts in a row failed before it (`attempt`):
 * - another process holds the node's lock: the target answered; wait with backoff, and let
 *   flushes wait for that process's round to end (the lock is let go between rounds);
 * - the target refuses the statement itself: a configuration error, retried every backoffMaxMs,
 *   and flushes are told so with CONFIG;
 * - down or stalled: the first failure after a success is retried at once, since a connection
 *   that was fine may simply have died while idle (the target restarted, a proxy dropped it);
 *   after that, backoff, and flushes are told UNAVAILABLE;
 * - this file's own failure (the gate, a local read): backoff, flushes told UNAVAILABLE.
 */
export function answerFailure(error: unknown, attempt: number, options: { backoffInitialMs: number; backoffMaxMs: number }): FailureAnswer {
  const backoff = backoffMs(attempt, { initialMs: options.backoffInitialMs, maxMs: options.backoffMaxMs });
  if (error instanceof ShipperLockedError)
    return { reason: 'locked', target: 'up', message: undefined, flushError: undefined, waitMs: backoff };
  if (SluiceError.is(error) && error.code !== 'UNAVAILABLE') {
    const flushError = new SluiceError('UNAVAILABLE', `Sync flush stopped: ${error.message}. The changes stay in the outbox.`, {
      cause: error,
    });
    return { reason: 'local', target: undefined, message: error.message, flushError, waitMs: backoff };
  }
  const reason = targetFailure(error);
  const said = describePgError(error);
  if (reason === 'refusing') {
    const message = `The sync target refuses the statement itself: a configuration error, not an outage (fix the target table or the sync options; retried every ${options.backoffMaxMs} ms): ${said}`;
    const flushError = new SluiceError('CONFIG', `Sync flush stopped. ${message}. The changes stay in the outbox.`, { cause: error });
    return { reason, target: reason, message, flushError, waitMs: options.backoffMaxMs };
  }
  if (attempt === 0) return { reason, target: reason, message: said, flushError: undefined, waitMs: 0 };
  const flushError = new SluiceError(
    'UNAVAILABLE',
    `Sync flush stopped: ${said}. The changes stay in the outbox and ship once the target answers.`,
    { cause: error },
  );
  return { reason, target: reason, message: said, flushError, waitMs: backoff };
}
