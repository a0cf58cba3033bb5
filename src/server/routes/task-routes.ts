import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-errors.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { ServerContext } from '../server-context.js';
import type { TableSchemas } from '../table-schemas.js';

const tags = ['tasks'];
const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] };

/** The task store (seed 004): create, read a task, read its result. */
export function registerTaskRoutes(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  registerCreateRoute(app, ctx, taskSchemas);
  registerGetRoute(app, ctx, taskSchemas);
  registerResultRoute(app, ctx);
}

function registerCreateRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.post<{ Body: { type: string; input?: unknown; resultTtlMs?: number; force?: boolean } }>(
    '/api/v1/tasks',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Create a task, or get the pending or fresh one with the same type and input',
        body: {
          type: 'object',
          properties: {
            type: { type: 'string', minLength: 1, maxLength: 200 },
            input: {},
            resultTtlMs: { type: 'integer', minimum: 0 },
            force: { type: 'boolean' },
          },
          required: ['type', 'input'],
          additionalProperties: false,
        },
        response: { 201: taskSchemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { type, input, resultTtlMs, force } = request.body;
      const task = await ctx.db.tasks.create(type, input, {
        ...(resultTtlMs === undefined ? {} : { resultTtlMs }),
        ...(force === undefined ? {} : { force }),
      });
      return reply.code(201).send(task);
    },
  );
}

function registerGetRoute(app: FastifyInstance, ctx: ServerContext, taskSchemas: TableSchemas): void {
  app.get<{ Params: { id: string } }>(
    '/api/v1/tasks/:id',
    {
      config: { read: true },
      schema: {
        tags,
        summary: 'One task: status, input, result, error',
        params: idParam,
        response: { 200: taskSchemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const task = await ctx.db.table(tasksDef(ctx)).get(request.params.id);
      if (!task) throw new HttpError(404, 'NOT_FOUND', `There is no task ${JSON.stringify(request.params.id)}.`);
      return task;
    },
  );
}

function registerResultRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Params: { id: string } }>(
    '/api/v1/tasks/:id/result',
    {
      config: { read: true },
      schema: {
        tags,
        summary: 'The result of a completed task (404 while it has none)',
        params: idParam,
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, result: {} }, required: ['status'] },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const status = await ctx.db.tasks.status(id);
      if (status === undefined) throw new HttpError(404, 'NOT_FOUND', `There is no task ${JSON.stringify(id)}.`);
      if (status !== 'completed') throw new HttpError(404, 'NOT_FOUND', `Task ${JSON.stringify(id)} has no result yet: it is ${status}.`);
      return { status, result: await ctx.db.tasks.result(id) };
    },
  );
}

function tasksDef(ctx: ServerContext) {
  const entry = ctx.tables.get('sluice_tasks');
  if (!entry) throw new HttpError(400, 'CONFIG', 'The task store is off: open the database with tasks: true to use /api/v1/tasks.');
  return entry.def;
}
