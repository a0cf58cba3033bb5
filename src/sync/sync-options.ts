import { z } from 'zod';

/** The `sync` option group of open(): where changes of `sync` tables are shipped, and when. */
export const syncOptionsSchema = z
  .object({
    /** The central database: `postgres://user@host:5432/db`. Without it nothing is captured or shipped. */
    target: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
      .optional(),
    /** 'postgres' (INSERT … ON CONFLICT) or 'opengauss' (INSERT … ON DUPLICATE KEY UPDATE). Default 'postgres'. */
    flavor: z.enum(['postgres', 'opengauss']).default('postgres'),
    /** The target schema the shipped tables live in; created when missing. Default: the server's search_path. */
    schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)
      .optional(),
    /** Changes per target transaction, and the pending count that triggers a shipment. Default 5,000. */
    batchSize: z.number().int().min(1).max(100_000).default(5000),
    /** A change waits at most this long before it is shipped. Default 1,000 ms. */
    intervalMs: z.number().int().min(1).default(1000),
    /** Pending changes past which writes to synced tables wait for the shipper (never dropped). Default 100,000. */
    maxPending: z.number().int().min(1).default(100_000),
    /** How long close() keeps shipping what is pending; the rest stays in the file. Default 5,000 ms. */
    drainMs: z.number().int().min(0).default(5000),
    /** Connect timeout to the target. Default 5,000 ms. */
    connectTimeoutMs: z.number().int().min(100).default(5000),
    /**
     * How long one statement to the target may go unanswered before the link counts as stalled:
     * the server cancels it (statement_timeout) and the client gives up on it a little later (a
     * hung link never delivers the cancel). Default 10,000 ms; raise it for very large batches.
     */
    statementTimeoutMs: z.number().int().min(100).default(10_000),
    /** First retry wait after a target failure (jittered, doubling). Default 100 ms. */
    backoffInitialMs: z.number().min(1).default(100),
    /** Longest retry wait; a target that refuses the statement itself is retried at this pace. Default 5,000 ms. */
    backoffMaxMs: z.number().min(1).default(5000),
  })
  .strict();

export type SyncOptionsInput = z.input<typeof syncOptionsSchema>;
export type SyncOptions = z.output<typeof syncOptionsSchema>;
