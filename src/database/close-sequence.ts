import type { Alerts } from '../alerts/alerts.js';
import type { SluiceCache } from '../cache/sluice-cache.js';
import type { LogCoalescer } from '../core/logger.js';
import type { Dialect } from '../dialect/dialect.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { Maintenance } from '../maintenance/maintenance.js';
import type { SyncShipper } from '../sync/sync-shipper.js';
import type { WorkerHub } from './worker-hub.js';

export interface ClosingParts {
  readonly workers: WorkerHub;
  readonly alerts: Alerts | undefined;
  readonly maintenance: Maintenance;
  readonly sync: SyncShipper | undefined;
  readonly drainMs: number;
  readonly gate: WriteGate;
  readonly cache: SluiceCache;
  readonly dialect: Dialect;
  readonly log: LogCoalescer;
}

/**
 * Stops a database's parts in the one order that loses no write: everything that writes through
 * the gate stops first, then the gate drains and closes, then what it wrote to.
 * `stoppingWorkers` is told while the workers stop, so their handles keep taking writes.
 */
export async function closeInOrder(parts: ClosingParts, stoppingWorkers: (stopping: boolean) => void): Promise<void> {
  const started = performance.now();
  // Workers settle through the gate, so they stop (finish or hand back) while it still takes writes.
  stoppingWorkers(true);
  try {
    await parts.workers.stopAll();
  } finally {
    stoppingWorkers(false);
  }
  await parts.alerts?.stop();
  await parts.maintenance.stop();
  if (parts.sync) {
    // The shipper acknowledges through the gate, so it drains before the gate closes.
    await parts.gate.flush();
    await parts.sync.close(parts.drainMs);
  }
  await parts.gate.close();
  await parts.cache.close();
  await parts.dialect.close();
  parts.log.flush();
  parts.log.logger.info(
    { event: 'close', ms: Math.round(performance.now() - started) },
    'closed: every write settled, connections released',
  );
}
