import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../../index.js';
import { HttpError } from '../http-errors.js';
import { degradedParts } from '../ops-state.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { ServerContext } from '../server-context.js';

const READY_SCHEMA = {
  type: 'object',
  description:
    'ready: every part answers; degraded: the database answers and its schema is current, but a part it works without does not (listed in degraded)',
  properties: {
    ok: { type: 'boolean' },
    status: { type: 'string', enum: ['ready', 'degraded'] },
    schemaVersion: { type: 'integer' },
    degraded: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          component: { type: 'string', enum: ['sync', 'redis'] },
          state: { type: 'string', description: "The part's own state: sync's target state, the Redis tier's state" },
          message: { type: 'string' },
        },
        required: ['component', 'state', 'message'],
      },
    },
  },
  required: ['ok', 'status', 'schemaVersion', 'degraded'],
};

/** Liveness and readiness: 503 only when the database itself does not answer or its schema is behind. */
export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
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
        summary:
          'The database answers and its schema is current (503 with the reason otherwise); a sync target or Redis that does not answer makes it degraded, not unready',
        response: { 200: READY_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const version = await databaseVersion(ctx);
      const degraded = degradedParts(ctx.db, ctx.sync);
      return { ok: true, status: degraded.length === 0 ? 'ready' : 'degraded', schemaVersion: version, degraded };
    },
  );
}

/** The schema version, once every table answered a read: throws the 503 that says why not. */
async function databaseVersion(ctx: ServerContext): Promise<number> {
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
  return version;
}
