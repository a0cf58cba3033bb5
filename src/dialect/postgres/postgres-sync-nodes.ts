import pg from 'pg';
import { parseUrl } from '../create-dialect.js';
import { endClient } from './postgres-sync-errors.js';
import { OFFSETS_TABLE, SHIPPING_LOCK } from './postgres-sync-target.js';
import { quoteIdentifier } from './postgres-types.js';

/** One edge node as the centre records it: its row in the offsets table. */
export interface SyncNodeRow {
  readonly nodeId: string;
  /** The node's last outbox sequence number the centre has applied. */
  readonly seq: number;
  /** Changes (upserts and deletes) applied for this node, ever; 0 for rows an older version wrote. */
  readonly changes: number;
  /** When the centre committed the node's last batch (or first saw the node). */
  readonly lastBatchAt: Date;
  /** The centre's clock minus lastBatchAt: how long the node has been silent, on one clock. */
  readonly sinceLastBatchMs: number;
  /** Shipping right now: a session holds the node's shipping lock. */
  readonly shipping: boolean;
}

/**
 * Reads every node's row on a sync target, on a connection of its own. A target nothing has
 * shipped to yet (no offsets table in the schema) has no nodes rather than an error.
 */
export async function readSyncNodes(options: {
  readonly url: string;
  readonly schema: string | undefined;
  readonly connectTimeoutMs: number;
}): Promise<SyncNodeRow[]> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: 'sluice sync nodes',
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const table =
      options.schema === undefined
        ? quoteIdentifier(OFFSETS_TABLE)
        : `${quoteIdentifier(options.schema)}.${quoteIdentifier(OFFSETS_TABLE)}`;
    const { rows: found } = await client.query<{ t: string | null }>('select to_regclass($1)::text as t', [table]);
    if (!found[0]?.t) return [];
    const { rows: columns } = await client.query<{ n: number }>(
      'select count(*)::int as n from pg_attribute where attrelid = $1::regclass and attname = $2 and not attisdropped',
      [table, 'changes'],
    );
    const changes = (columns[0]?.n ?? 0) > 0 ? 'o.changes' : '0';
    // The shipping lock is pg_try_advisory_lock(hashtext(SHIPPING_LOCK), hashtext(node_id)): two
    // int4 keys, which pg_locks shows as classid and objid (oids, so compared as unsigned).
    const { rows } = await client.query(
      `select o.node_id, o.seq::text as seq, ${changes}::text as changes, o.updated_at,
              greatest(0, extract(epoch from (clock_timestamp() - o.updated_at)) * 1000)::float8 as since_ms,
              exists (select 1 from pg_locks l
                       where l.locktype = 'advisory' and l.objsubid = 2 and l.granted and l.database = (select oid from pg_database where datname = current_database())
                         and l.classid::text::bigint = (hashtext($1)::bigint & 4294967295)
                         and l.objid::text::bigint = (hashtext(o.node_id)::bigint & 4294967295)) as shipping
         from ${table} o
        order by o.node_id`,
      [SHIPPING_LOCK],
    );
    return rows.map((r) => ({
      nodeId: r.node_id as string,
      seq: Number(r.seq),
      changes: Number(r.changes),
      lastBatchAt: r.updated_at as Date,
      sinceLastBatchMs: Number(r.since_ms),
      shipping: r.shipping === true,
    }));
  } finally {
    await endClient(client);
  }
}

/** A sync target's URL as open() reads URLs, so one the engine takes is one this takes. */
export function isSyncTargetUrl(url: string): boolean {
  try {
    return parseUrl(url).kind === 'postgres';
  } catch {
    return false;
  }
}
