import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { SyncSurface } from '../sync-probe.js';

/** The shipper's status, a flush now, and dead letters back into the queue. */
export function registerSyncRoutes(app: FastifyInstance, sync: SyncSurface): void {
  const tags = ['sync'];
  app.get(
    '/api/v1/sync/status',
    { config: { read: true }, schema: { tags, summary: 'db.sync.status()', response: ERROR_RESPONSES } },
    async () => sync.status(),
  );
  app.post(
    '/api/v1/sync/flush',
    { config: { write: true }, schema: { tags, summary: 'Ship everything pending now', response: ERROR_RESPONSES } },
    async () => {
      await sync.flush();
      return { flushed: true, status: sync.status() };
    },
  );
  app.post(
    '/api/v1/sync/retry',
    { config: { write: true }, schema: { tags, summary: 'Move dead letters back into the queue', response: ERROR_RESPONSES } },
    async () => {
      const retried = await sync.retry();
      return { retried: retried ?? null, status: sync.status() };
    },
  );
}
