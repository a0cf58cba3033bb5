import type { Database } from '../index.js';

/** The part of `db.sync` the server uses. */
export interface SyncSurface {
  status(): unknown;
  flush(): Promise<unknown>;
  retry(): Promise<unknown>;
}

/**
 * The database's sync, when this build has one and the database was opened with it. Read at
 * run time so the server works with and without the sync layer.
 */
export function syncOf(db: Database): SyncSurface | undefined {
  let sync: unknown;
  try {
    sync = (db as unknown as { sync?: unknown }).sync;
  } catch {
    return undefined;
  }
  if (typeof sync !== 'object' || sync === null) return undefined;
  const s = sync as Partial<SyncSurface>;
  if (typeof s.status !== 'function' || typeof s.flush !== 'function' || typeof s.retry !== 'function') return undefined;
  try {
    s.status.call(sync);
  } catch {
    return undefined;
  }
  return sync as SyncSurface;
}
