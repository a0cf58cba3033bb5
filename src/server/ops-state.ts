import type { AlertStatus, AlertsApi, Database, SyncApi } from '../index.js';
import { SluiceError } from '../index.js';

/** A part the database works without, for now: writes go on locally, reads go to the database. */
export interface DegradedPart {
  readonly component: 'sync' | 'redis';
  /** The part's own state word: sync's target state, the Redis tier's state. */
  readonly state: string;
  readonly message: string;
}

/**
 * `db.alerts`, or undefined when the database was opened without alert rules. The library says
 * so with CONFIG (its face for a part that is off); the server answers with an empty list instead.
 */
export function alertsOf(db: Database): AlertsApi | undefined {
  try {
    return db.alerts;
  } catch (error) {
    if (SluiceError.is(error, 'CONFIG')) return undefined;
    throw error;
  }
}

/** A rule's state as JSON: dates as ISO text. */
export function alertJson(status: AlertStatus): Record<string, unknown> {
  return {
    ...status,
    since: status.since?.toISOString() ?? null,
    lastEvaluatedAt: status.lastEvaluatedAt?.toISOString() ?? null,
  };
}

/**
 * What the database does without now: a sync target that does not take changes (they wait in
 * the outbox) and a configured Redis tier that is down (reads go to the database). Neither
 * stops the server answering; `/readyz` reports them.
 */
export function degradedParts(db: Database, sync: SyncApi | undefined): DegradedPart[] {
  const parts: DegradedPart[] = [];
  if (sync) {
    const status = sync.status();
    if (status.target !== 'up') {
      parts.push({
        component: 'sync',
        state: status.target,
        message: `The sync target is ${status.target}: ${status.pending} changes wait in the outbox${status.lastError ? ` (${status.lastError})` : ''}.`,
      });
    }
  }
  const l2 = db.stats().cache.l2;
  if (l2.configured && l2.state === 'down') {
    parts.push({
      component: 'redis',
      state: l2.state,
      message: `The Redis cache tier is down: reads go to the database${l2.lastError ? ` (${l2.lastError})` : ''}.`,
    });
  }
  return parts;
}
