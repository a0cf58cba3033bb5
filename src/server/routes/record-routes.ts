import type { FastifyInstance } from 'fastify';
import { type AnyTableDef, rollupOf } from '../../internal.js';
import type { ServerContext } from '../server-context.js';
import type { TableSchemas } from '../table-schemas.js';
import { registerLifecycleRoutes } from './lifecycle-routes.js';
import { registerRecordInsertRoute } from './record-insert-route.js';
import { recordKit } from './record-kit.js';
import { registerRecordReadRoutes } from './record-read-routes.js';
import { registerRecordUpdateRoutes } from './record-update-routes.js';

/**
 * The records routes of one table: `/api/v1/tables/{table}/…`, each schema from the table's
 * columns. A rollup gets the read routes only: the database keeps it from its source's writes,
 * and a row written by hand would be overwritten by the next one (or make it wrong until then).
 */
export function registerRecordRoutes(app: FastifyInstance, ctx: ServerContext, def: AnyTableDef, schemas: TableSchemas): void {
  const kit = recordKit(ctx, def, schemas);
  registerRecordReadRoutes(app, kit);
  if (rollupOf(def)) return;
  registerRecordInsertRoute(app, kit);
  registerRecordUpdateRoutes(app, kit);
  registerLifecycleRoutes(app, kit);
}
