import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type SyncStatus, TARGET_STATES } from './sync-api.js';

export interface ShipperMetrics {
  readonly shipped: Counter;
  readonly batch: Histogram;
  readonly failures: Counter<'reason'>;
  readonly forks: Counter;
}

/** The shipper's metrics; gauges read `status()` when scraped. */
export function registerSyncMetrics(registry: Registry, status: () => SyncStatus): ShipperMetrics {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('sluice_sync_pending', 'Changes waiting in the outbox to ship.', () => status().pending);
  gauge('sluice_sync_lag_seconds', 'Age of the oldest pending change.', () => status().lagMs / 1000);
  gauge('sluice_sync_dead_letters', 'Changes the target refused, set aside until retry.', () => status().deadLetters);
  gauge('sluice_sync_target_up', "1 while the sync target answers (target state 'up'), else 0.", () => (status().target === 'up' ? 1 : 0));
  gauge('sluice_sync_synced', "The target's acknowledged mark for this node.", () => status().synced);
  new Gauge({
    name: 'sluice_sync_target_state',
    help: "The sync target's state: 1 for the current one of up, down, stalled, refusing.",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = status().target;
      for (const state of TARGET_STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
  return {
    shipped: new Counter({
      name: 'sluice_sync_shipped_rows_total',
      help: 'Outbox changes shipped and acknowledged.',
      registers: [registry],
    }),
    batch: new Histogram({
      name: 'sluice_sync_batch_seconds',
      help: 'Time one batch took: read, ship, commit on the target, acknowledge locally.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'sluice_sync_failures_total',
      help: 'Ship attempts that failed, by reason (down, stalled, refusing, locked, local, refused).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    forks: new Counter({
      name: 'sluice_sync_forks_total',
      help: 'Times this file found the target following another copy of it, and took a new node id.',
      registers: [registry],
    }),
  };
}
