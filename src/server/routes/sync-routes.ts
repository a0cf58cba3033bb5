import type { FastifyInstance } from 'fastify';
import type { SyncApi, SyncStatus, TargetState } from '../../index.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { JsonSchema } from '../table-schemas.js';

const count = { type: 'integer', minimum: 0 };
const TARGET_STATES: readonly TargetState[] = ['up', 'down', 'stalled', 'refusing'];

/** Every field of `db.sync.status()`; keyed by SyncStatus, so a field added there fails to compile until it is described here. */
const STATUS_FIELDS: Record<keyof SyncStatus, JsonSchema> = {
  nodeId: { type: 'string', description: 'The node id this file ships under (absent until migrate has created the sync tables)' },
  forkedFrom: { type: 'string', description: 'The node id this file shipped under before it last forked' },
  forks: { ...count, description: 'Forks since open' },
  resyncing: { type: 'boolean', description: "A fork's resync is queueing this file's current rows" },
  total: { ...count, description: 'Changes captured in this file, ever' },
  synced: { ...count, description: "The target's mark for this node" },
  pending: { ...count, description: 'Changes waiting to ship' },
  failed: { ...count, description: 'Ship attempts that failed since open' },
  deadLetters: { ...count, description: 'Changes the target refused, set aside until retry' },
  progress: { type: 'number', minimum: 0, maximum: 1, description: 'Changes applied on the target / total' },
  lagMs: { type: 'number', minimum: 0, description: 'Age of the oldest pending change, ms' },
  syncing: { type: 'boolean', description: 'A batch is on its way now' },
  target: { type: 'string', enum: TARGET_STATES, description: 'How the target answered last' },
  lastError: { type: 'string', description: 'Why the last attempt failed (absent once a ship succeeds)' },
  lastBatch: {
    type: 'object',
    properties: { size: count, ms: { type: 'number', minimum: 0 } },
    required: ['size', 'ms'],
    description: 'The last batch shipped',
  },
  shippedRows: { ...count, description: 'Changes shipped since open' },
};

/** Absent when undefined: a node before migrate, a file that never forked, no error, no batch yet. */
const OPTIONAL: ReadonlySet<keyof SyncStatus> = new Set(['nodeId', 'forkedFrom', 'lastError', 'lastBatch']);

const SYNC_STATUS_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'db.sync.status(): the shipper as of its last look at the file and the target',
  properties: STATUS_FIELDS,
  required: Object.keys(STATUS_FIELDS).filter((k) => !OPTIONAL.has(k as keyof SyncStatus)),
};

function withStatus(field: string, schema: JsonSchema): JsonSchema {
  return { type: 'object', properties: { [field]: schema, status: SYNC_STATUS_SCHEMA }, required: [field, 'status'] };
}

/** The shipper's status, a flush now, and dead letters back into the queue. */
export function registerSyncRoutes(app: FastifyInstance, sync: SyncApi): void {
  const tags = ['sync'];
  app.get(
    '/api/v1/sync/status',
    { config: { read: true }, schema: { tags, summary: 'db.sync.status()', response: { 200: SYNC_STATUS_SCHEMA, ...ERROR_RESPONSES } } },
    async () => sync.status(),
  );
  app.post(
    '/api/v1/sync/flush',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Ship everything pending now',
        response: { 200: withStatus('flushed', { type: 'boolean', enum: [true] }), ...ERROR_RESPONSES },
      },
    },
    async () => {
      await sync.flush();
      return { flushed: true, status: sync.status() };
    },
  );
  app.post(
    '/api/v1/sync/retry',
    {
      config: { write: true },
      schema: {
        tags,
        summary: 'Move dead letters back into the queue',
        response: { 200: withStatus('retried', { ...count, description: 'Dead letters moved back into the queue' }), ...ERROR_RESPONSES },
      },
    },
    async () => {
      const retried = await sync.retry();
      return { retried, status: sync.status() };
    },
  );
}
