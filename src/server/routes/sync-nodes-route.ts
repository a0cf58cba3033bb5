import type { FastifyInstance } from 'fastify';
import type { SyncApi, SyncNode } from '../../index.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { JsonSchema } from '../table-schemas.js';

const count = { type: 'integer', minimum: 0 };

/** Keyed by SyncNode, so a field added there fails to compile until it is described here. */
const NODE_FIELDS: Record<keyof SyncNode, JsonSchema> = {
  nodeId: { type: 'string', description: 'The node id an edge file ships under' },
  seq: { ...count, description: "The node's last outbox sequence number the centre applied" },
  changes: { ...count, description: 'Changes (upserts and deletes) the centre applied for the node, ever' },
  lastBatchAt: { type: 'string', format: 'date-time', description: "When the centre committed the node's last batch" },
  sinceLastBatchMs: { type: 'number', minimum: 0, description: 'How long ago that was, on the centre’s clock, ms' },
  shipping: { type: 'boolean', description: 'A session holds the node’s shipping lock now' },
};

const NODES_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    nodes: {
      type: 'array',
      description: 'Every node shipping into this server’s sync target, by node id',
      items: { type: 'object', properties: NODE_FIELDS, required: Object.keys(NODE_FIELDS) },
    },
  },
  required: ['nodes'],
};

/** The centre's record of every edge node shipping into the same target as this database. */
export function registerSyncNodesRoute(app: FastifyInstance, sync: SyncApi): void {
  app.get(
    '/api/v1/sync/nodes',
    {
      config: { read: true },
      schema: {
        tags: ['sync'],
        summary: 'db.sync.nodes(): the edge nodes as the centre records them',
        response: { 200: NODES_SCHEMA, ...ERROR_RESPONSES },
      },
    },
    async () => ({ nodes: await sync.nodes() }),
  );
}
