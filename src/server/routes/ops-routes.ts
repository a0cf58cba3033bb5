import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../../index.js';
import { frame, historyFrame, MAX_FRAME_BYTES } from '../event-frames.js';
import { HttpError } from '../http-errors.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { ServerContext } from '../server-context.js';

/** Health, readiness, Prometheus, stats, the table catalogue and the dashboard's event stream. */
export function registerOpsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['operations'];
  app.get(
    '/healthz',
    { schema: { tags, summary: 'The process is up', response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'The database answers and its schema is current (503 with the reason otherwise)',
        response: {
          200: { type: 'object', properties: { ok: { type: 'boolean' }, schemaVersion: { type: 'integer' } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => {
      if (!ctx.db.isOpen) throw new HttpError(503, 'CLOSED', 'The database is closed.');
      let version: number;
      try {
        version = await ctx.db.schemaVersion();
        for (const { def } of ctx.tables.values()) await ctx.db.table(def).find({ limit: 1, cache: false });
      } catch (error) {
        const reason = SluiceError.is(error, 'CONFIG') ? 'The schema is not current' : 'The database does not answer';
        throw new HttpError(503, 'UNAVAILABLE', `${reason}: ${(error as Error).message}`);
      }
      const expected = ctx.options.schemaVersion;
      if (expected !== undefined && version < expected) {
        throw new HttpError(
          503,
          'UNAVAILABLE',
          `The database schema is at version ${version}, the server expects ${expected}: run sluice migrate.`,
        );
      }
      return { ok: true, schemaVersion: version };
    },
  );

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
}

/** The tables, their columns, keys and lifecycles: what the dashboard and a client build on. */
function registerCatalogueRoute(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['operations'];
  app.get(
    '/api/v1/tables',
    {
      config: { read: true },
      schema: {
        tags,
        summary: 'Tables, columns, keys and lifecycles',
        response: {
          200: {
            type: 'object',
            properties: {
              tables: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    primaryKey: { type: 'array', items: { type: 'string' } },
                    columns: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          name: { type: 'string' },
                          type: { type: 'string' },
                          nullable: { type: 'boolean' },
                          hasDefault: { type: 'boolean' },
                        },
                      },
                    },
                    lifecycle: {
                      type: ['object', 'null'],
                      properties: {
                        column: { type: 'string' },
                        initial: { type: 'string' },
                        states: { type: 'array', items: { type: 'string' } },
                        transitions: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
                        history: { type: 'boolean' },
                        leases: { type: 'boolean' },
                      },
                    },
                  },
                },
              },
              sync: { type: 'boolean' },
            },
          },
        },
      },
    },
    async () => ({
      tables: [...ctx.tables.values()].map(({ def }) => ({
        name: def.name,
        primaryKey: def.primaryKey.map((c) => c.name),
        columns: def.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, hasDefault: c.hasDefault })),
        lifecycle: def.lifecycle
          ? {
              column: def.lifecycle.column.name,
              initial: def.lifecycle.initial,
              states: def.lifecycle.states,
              transitions: Object.fromEntries([...def.lifecycle.next].map(([from, to]) => [from, [...to]])),
              history: def.lifecycle.history,
              leases: def.lifecycle.leases !== undefined,
            }
          : null,
      })),
      sync: ctx.sync !== undefined,
    }),
  );
}

/** The dashboard's feed: history once, counts once, then a snapshot every interval. */
function registerEventsRoute(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['operations'];
  app.get(
    '/api/v1/events',
    { config: { read: true }, schema: { tags, summary: 'Server-sent events: a snapshot every interval' } },
    (request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(historyFrame(ctx.feed.history, 'retry: 2000\n'));
      void ctx.feed
        .counts()
        .then((tables) => {
          const text = frame('counts', tables);
          if (!res.writableEnded && text.length <= MAX_FRAME_BYTES) res.write(text);
        })
        .catch((error) => ctx.errors.record('counts', error));
      const unsubscribe = ctx.feed.subscribe((snapshot) => {
        // A viewer that stopped reading gets no more until it catches up: each snapshot is whole,
        // so skipping some loses nothing, and the server does not buffer frames for it.
        if (!res.writableEnded && res.writableLength < MAX_FRAME_BYTES * 4) res.write(snapshot);
      });
      const end = () => {
        unsubscribe();
        if (!res.writableEnded) res.end();
      };
      request.raw.once('close', end);
      ctx.streams.add(end);
      res.once('close', () => ctx.streams.delete(end));
    },
  );
}
