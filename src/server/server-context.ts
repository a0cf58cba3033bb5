import type { Database, SyncApi } from '../index.js';
import type { AnyTableDef } from '../internal.js';
import type { BearerAuth } from './bearer-auth.js';
import type { EventFeed } from './event-feed.js';
import type { RecentErrors } from './recent-errors.js';
import type { ResolvedServerOptions } from './server-options.js';
import type { TableSchemas } from './table-schemas.js';

/** What every route module needs: the database, its tables, the limits and the shared services. */
export interface ServerContext {
  readonly db: Database;
  readonly options: ResolvedServerOptions;
  readonly auth: BearerAuth;
  readonly tables: ReadonlyMap<string, { readonly def: AnyTableDef; readonly schemas: TableSchemas }>;
  readonly errors: RecentErrors;
  readonly feed: EventFeed;
  readonly sync: SyncApi | undefined;
  /** Ends each open event stream, so shutdown does not wait on them. */
  readonly streams: Set<() => void>;
}

/** Route config flags the auth hook reads. */
export interface RouteAccess {
  /** Needs the write token. */
  write?: boolean;
  /** Needs the read token when reads are closed. */
  read?: boolean;
}
