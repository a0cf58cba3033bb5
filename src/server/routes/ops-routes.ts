import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';
import { registerAlertsRoute } from './alerts-route.js';
import { registerCatalogueRoute } from './catalogue-route.js';
import { registerEventsRoute } from './events-route.js';
import { registerHealthRoutes } from './health-routes.js';

/** Prometheus and stats here; health and readiness, the table catalogue, the event stream and alerts each in their own file. */
export function registerOpsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['operations'];
  registerHealthRoutes(app, ctx);
  app.get('/metrics', { config: { read: true }, schema: { tags, summary: 'Prometheus text exposition' } }, async (_request, reply) => {
    const registry = ctx.db.metrics;
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  app.get(
    '/api/v1/stats',
    { config: { read: true }, schema: { tags, summary: 'db.stats(): counters and latency percentiles' } },
    async () => ctx.db.stats(),
  );

  registerCatalogueRoute(app, ctx);
  registerEventsRoute(app, ctx);
  registerAlertsRoute(app, ctx);
}
