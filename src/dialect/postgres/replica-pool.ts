import type { PgConnectionOptions, PgPool, PostgresDriver } from './postgres-connection.js';

/** A WAL position (`X/Y` in hexadecimal) as a number that compares. */
export function parseLsn(text: unknown): bigint {
  if (typeof text !== 'string') return -1n;
  const slash = text.indexOf('/');
  if (slash < 0) return -1n;
  return (BigInt(`0x${text.slice(0, slash)}`) << 32n) + BigInt(`0x${text.slice(slash + 1)}`);
}

/**
 * How far the replica has replayed, and how old its data is. Lag is 0 when it has replayed all
 * the WAL it received (an idle primary ages pg_last_xact_replay_timestamp() without the replica
 * falling behind); otherwise the age of the last transaction it replayed. A replica whose WAL
 * receiver is not streaming cannot tell how far behind it is: `streaming` is false and it is skipped.
 */
const PROBE_SQL = `select pg_last_wal_replay_lsn()::text as replayed,
  case when pg_last_wal_receive_lsn() is null or pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() then 0
       else coalesce(extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000, 0) end::float8 as lag_ms,
  exists (select 1 from pg_stat_wal_receiver where status = 'streaming') as streaming`;

/**
 * One read replica: a pool of its own and what the last probe saw. Probes are single-flight, so a
 * burst of reads that all need a fresher position share one round trip.
 */
export class ReplicaTarget {
  readonly label: string;
  readonly pool: PgPool;
  /** The last replayed position seen; -1 before the first probe. */
  replayed = -1n;
  lagMs = 0;
  streaming = false;
  /** performance.now() of the last successful probe; 0 before it. */
  probedAt = 0;
  /** Until this performance.now() time the replica is skipped (it failed a read or a probe). */
  downUntil = 0;
  reads = 0;
  #probing: Promise<void> | undefined;

  constructor(url: string, base: PgConnectionOptions, driver: PostgresDriver, size: number) {
    this.label = labelOf(url);
    this.pool = driver.createPool({ ...base, url, pooler: false }, size);
  }

  /** Asks the replica where it stands; a failure marks it down for `retryMs`. */
  probe(retryMs: number): Promise<void> {
    this.#probing ??= (async () => {
      try {
        const { rows } = await this.pool.query(PROBE_SQL);
        const row = rows[0] ?? {};
        this.replayed = parseLsn(row.replayed);
        this.lagMs = Number(row.lag_ms ?? 0);
        this.streaming = row.streaming === true;
        this.probedAt = performance.now();
      } catch {
        this.markDown(retryMs);
      } finally {
        this.#probing = undefined;
      }
    })();
    return this.#probing;
  }

  markDown(retryMs: number): void {
    this.downUntil = performance.now() + retryMs;
    this.probedAt = 0;
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** host:port of a URL, never its password, for metrics and status. */
function labelOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    return 'replica';
  }
}
