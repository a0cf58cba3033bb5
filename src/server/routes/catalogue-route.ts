import type { FastifyInstance } from 'fastify';
import { type AnyTableDef, rollupOf } from '../../internal.js';
import type { ServerContext } from '../server-context.js';

const strings = { type: 'array', items: { type: 'string' } };

const TABLE_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    primaryKey: strings,
    columns: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, type: { type: 'string' }, nullable: { type: 'boolean' }, hasDefault: { type: 'boolean' } },
      },
    },
    lifecycle: {
      type: ['object', 'null'],
      properties: {
        column: { type: 'string' },
        initial: { type: 'string' },
        states: strings,
        transitions: { type: 'object', additionalProperties: strings },
        history: { type: 'boolean' },
        leases: { type: 'boolean' },
      },
    },
    rollup: {
      type: ['object', 'null'],
      description: 'Set for a rollup (defineRollup): kept by the database from its source, read-only over HTTP',
      properties: {
        source: { type: 'string' },
        time: { type: 'string' },
        every: { type: 'string', enum: ['minute', 'hour', 'day'] },
        groupBy: strings,
        measures: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              kind: { type: 'string', enum: ['count', 'sum', 'min', 'max'] },
              column: { type: ['string', 'null'], description: 'The source column; null for count' },
            },
            required: ['name', 'kind', 'column'],
          },
        },
      },
    },
  },
  required: ['name', 'primaryKey', 'columns', 'lifecycle', 'rollup'],
};

/** The tables (rollups among them), their columns, keys and lifecycles: what the dashboard and a client build on. */
export function registerCatalogueRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/v1/tables',
    {
      config: { read: true },
      schema: {
        tags: ['operations'],
        summary: 'Tables and rollups: columns, keys, lifecycles, what each rollup summarises',
        response: {
          200: {
            type: 'object',
            properties: { tables: { type: 'array', items: TABLE_SCHEMA }, sync: { type: 'boolean' } },
            required: ['tables', 'sync'],
          },
        },
      },
    },
    async () => ({ tables: [...ctx.tables.values()].map(({ def }) => describeTable(def)), sync: ctx.sync !== undefined }),
  );
}

function describeTable(def: AnyTableDef): Record<string, unknown> {
  const rollup = rollupOf(def);
  return {
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
    rollup: rollup
      ? {
          source: rollup.source.name,
          time: rollup.time.name,
          every: rollup.every,
          groupBy: rollup.groupBy.map((g) => g.column.name),
          measures: rollup.measures.map((m) => ({ name: m.name, kind: m.kind, column: m.source?.name ?? null })),
        }
      : null,
  };
}
