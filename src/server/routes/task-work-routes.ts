import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { ServerContext } from '../server-context.js';
import type { TableSchemas } from '../table-schemas.js';

const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] };
const tags = ['tasks'];
const token = { type: 'integer', minimum: 0, description: 'The attempt the claim returned: only the current lease holder may settle.' };

/**
 * The task store's worker side over HTTP (seed 004's task backend, for workers in other
 * languages): claim under a lease, complete with a result, fail with an error, retry a failed task.
 */
export function registerTaskWorkRoutes(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  registerClaimRoute(app, ctx, taskSchemas);
  registerCompleteRoute(app, ctx, taskSchemas);
  registerFailRoute(app, ctx, taskSchemas);
  registerRetryRoute(app, ctx, taskSchemas);
}

function registerClaimRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.post<{ Body: { owner: string; types?: string[]; limit?: number; leaseMs?: number } }>(
    '/api/v1/tasks/claims',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Lease up to `limit` pending tasks (of `types`) to `owner`; each carries its fencing token in `attempt`',
        body: {
          type: 'object',
          properties: {
            owner: { type: 'string', minLength: 1, maxLength: 200 },
            types: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 100 },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            leaseMs: { type: 'integer', minimum: 1 },
          },
          required: ['owner'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchemas.row } }, required: ['tasks'] },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { owner, types, limit, leaseMs } = request.body;
      const tasks = await ctx.db.tasks.claim({
        owner,
        ...(types === undefined ? {} : { types }),
        ...(limit === undefined ? {} : { limit }),
        ...(leaseMs === undefined ? {} : { leaseMs }),
      });
      return { tasks };
    },
  );
}

function registerCompleteRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.post<{ Params: { id: string }; Body: { result?: unknown; token?: number } }>(
    '/api/v1/tasks/:id/complete',
    {
      config: { write: true },
      schema: {
        tags,
        summary: "Store a processing task's result (409 when it is not processing, or its lease passed on)",
        params: idParam,
        body: { type: 'object', properties: { result: {}, token }, additionalProperties: false },
        response: { 200: taskSchemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { result, token } = request.body;
      return ctx.db.tasks.complete(request.params.id, result, token === undefined ? {} : { token });
    },
  );
}

function registerFailRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.post<{ Params: { id: string }; Body: { error: string; token?: number } }>(
    '/api/v1/tasks/:id/fail',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Record why a processing task failed (409 when it is not processing, or its lease passed on)',
        params: idParam,
        body: {
          type: 'object',
          properties: { error: { type: 'string', maxLength: 10_000 }, token },
          required: ['error'],
          additionalProperties: false,
        },
        response: { 200: taskSchemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { error, token } = request.body;
      return ctx.db.tasks.fail(request.params.id, error, token === undefined ? {} : { token });
    },
  );
}

function registerRetryRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.post<{ Params: { id: string } }>(
    '/api/v1/tasks/:id/retry',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Send a failed task back to pending, its error cleared and its attempts kept (409 unless it failed)',
        params: idParam,
        response: { 200: taskSchemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request) => ctx.db.tasks.retry(request.params.id),
  );
}
