import type { FastifyInstance } from 'fastify';
import type { AnyTableDef } from '../../internal.js';
import type { ServerContext } from '../server-context.js';
import type { TableSchemas } from '../table-schemas.js';
import { registerLifecycleRoutes } from './lifecycle-routes.js';
import { registerRecordInsertRoute } from './record-insert-route.js';
import { recordKit } from './record-kit.js';
import { registerRecordReadRoutes } from './record-read-routes.js';
import { registerRecordUpdateRoutes } from './record-update-routes.js';

/** The records routes of one table: `/api/v1/tables/{table}/…`, each schema from the table's columns. */
export function registerRecordRoutes(app: FastifyInstance, ctx: ServerContext, def: AnyTableDef, schemas: TableSchemas): void {
  const kit = recordKit(ctx, def, schemas);
  registerRecordReadRoutes(app, kit);
  registerRecordInsertRoute(app, kit);
  registerRecordUpdateRoutes(app, kit);
  registerLifecycleRoutes(app, kit);
}
