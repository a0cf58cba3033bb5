import { SluiceError } from '../core/sluice-error.js';
import { isSyncTargetUrl, readSyncNodes, type SyncNodeRow } from '../dialect/postgres/postgres-sync-nodes.js';

/** One edge node as the centre records it (`syncNodes()`, `db.sync.nodes()`, `GET /api/v1/sync/nodes`). */
export type SyncNode = SyncNodeRow;

export interface SyncNodesTarget {
  /** The centre: `postgres://user@host:5432/db`, as edges pass it to `sync: { target }`. */
  readonly url: string;
  /** The schema the edges ship into (their `sync.schema`); default: the server's search_path. */
  readonly schema?: string | undefined;
  /** Default 5,000 ms. */
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Every edge node that ships into one centre, read on the centre itself: its last applied outbox
 * sequence, the changes applied for it, when its last batch committed and how long ago that was
 * on the centre's clock (a node that falls silent shows it there, whatever the node's own clock
 * says), and whether it is shipping now. A node's pending count lives in its own file
 * (`db.sync.status()`); the centre knows only what arrived.
 */
export async function syncNodes(target: SyncNodesTarget): Promise<SyncNode[]> {
  if (!isSyncTargetUrl(target.url))
    throw new SluiceError('VALIDATION', `syncNodes: the target must be a postgres:// URL, got ${JSON.stringify(target.url)}`, {
      value: target.url,
    });
  try {
    return await readSyncNodes({ url: target.url, schema: target.schema, connectTimeoutMs: target.connectTimeoutMs ?? 5000 });
  } catch (error) {
    const where = `${target.url.replace(/\/\/[^@/]*@/, '//')}${target.schema ? ` (schema ${target.schema})` : ''}`;
    throw new SluiceError(
      'UNAVAILABLE',
      `Could not read the sync nodes at ${where}: ${(error as Error).message}. Check the target URL and that the server is up.`,
      {
        cause: error,
      },
    );
  }
}
