import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { DataSource, type EntityManager } from 'typeorm';
import { open, type StateType } from '../../dist/index.js';
import { type MediaRecord, mediaFiles } from './media-table.js';
import { drizzleMedia, mediaLifecycle, typeormMedia } from './peer-tables.js';
import { applyWriterPragmas, openRaw, openSluice } from './sqlite-files.js';

/**
 * 'typeorm-queued' is TypeORM with its top-level transactions run one at a time, the workaround an app
 * needs on SQLite: the better-sqlite3 driver has one query runner, so concurrent `transaction()` calls
 * interleave on one connection ("cannot start a transaction within a transaction", typeorm/typeorm#8668).
 */
export type Contender = 'sluice' | 'drizzle' | 'typeorm' | 'typeorm-queued';

type State = StateType<typeof mediaLifecycle>;

export const PEER_BUSY_TIMEOUT_MS = 5000;
/** Sluice's writer sets this (src/dialect/sqlite/sqlite-connection.ts); the peers get it too. */
export const SLUICE_WAL_AUTOCHECKPOINT = 8192;
const PEER_PRAGMAS = { busyTimeoutMs: PEER_BUSY_TIMEOUT_MS, walAutocheckpoint: SLUICE_WAL_AUTOCHECKPOINT };

/** One contender's way of doing each operation, as its documentation shows it. */
export interface PeerWriter {
  /** Scenario A: a single-row insert, awaited. */
  insert(row: MediaRecord): Promise<void>;
  /** Scenario B: an insert through the peer's transaction() API (Sluice: its insert). */
  txInsert(row: MediaRecord): Promise<void>;
  /** Scenario B: compare-and-set of transfer_status; false when the row was not in `from`. */
  txSetStatus(path: string, from: string, to: string): Promise<boolean>;
  close(): Promise<void>;
}

/** `lifecycle`: open Sluice on mediaLifecycle (scenario B) instead of mediaFiles; the peers see the same columns. */
export async function openWriter(contender: Contender, file: string, lifecycle: boolean): Promise<PeerWriter> {
  if (contender === 'drizzle') return openDrizzle(file);
  if (contender === 'typeorm' || contender === 'typeorm-queued') return openTypeorm(file, contender === 'typeorm-queued');
  return lifecycle ? openSluiceLifecycle(file) : openSluicePlain(file);
}

async function openSluicePlain(file: string): Promise<PeerWriter> {
  const db = await openSluice(file);
  const files = db.table(mediaFiles);
  const unsupported = () => Promise.reject(new Error('scenario A opens Sluice without the lifecycle'));
  return {
    insert: async (row) => void (await files.insert(row)),
    txInsert: unsupported,
    txSetStatus: unsupported,
    close: () => db.close(),
  };
}

async function openSluiceLifecycle(file: string): Promise<PeerWriter> {
  const db = await open({ url: `sqlite:${file}`, tables: [mediaLifecycle] });
  await db.migrate();
  const files = db.table(mediaLifecycle);
  const insert = async (row: MediaRecord) => void (await files.insert(row));
  return {
    insert,
    txInsert: insert,
    txSetStatus: async (path, from, to) => (await files.transition(path, to as State, { from: from as State })).applied,
    close: () => db.close(),
  };
}

function openDrizzle(file: string): PeerWriter {
  const client = openRaw(file, PEER_PRAGMAS);
  const db = drizzle({ client });
  const t = drizzleMedia;
  return {
    insert: async (row) => void (await db.insert(t).values(row)),
    // better-sqlite3 transactions are synchronous, so Drizzle's callback is too: each caller's transaction runs whole.
    txInsert: async (row) => db.transaction((tx) => void tx.insert(t).values(row).run()),
    txSetStatus: async (path, from, to) =>
      db.transaction(
        (tx) =>
          tx
            .update(t)
            .set({ transferStatus: to })
            .where(and(eq(t.path, path), eq(t.transferStatus, from)))
            .run().changes === 1,
      ),
    close: async () => void client.close(),
  };
}

async function openTypeorm(file: string, queued: boolean): Promise<PeerWriter> {
  const source = new DataSource({
    type: 'better-sqlite3',
    database: file,
    entities: [typeormMedia],
    timeout: PEER_BUSY_TIMEOUT_MS,
    prepareDatabase: (db) => applyWriterPragmas(db, PEER_PRAGMAS),
  });
  await source.initialize();
  const repository = source.getRepository(typeormMedia);
  let tail: Promise<unknown> = Promise.resolve();
  const transaction = <T>(work: (manager: EntityManager) => Promise<T>): Promise<T> => {
    if (!queued) return source.transaction(work);
    const run = tail.then(() => source.transaction(work));
    tail = run.catch(() => {});
    return run;
  };
  return {
    insert: async (row) => void (await repository.insert(row)),
    txInsert: (row) => transaction(async (manager) => void (await manager.insert(typeormMedia, row))),
    txSetStatus: (path, from, to) =>
      transaction(
        async (manager) => (await manager.update(typeormMedia, { path, transferStatus: from }, { transferStatus: to })).affected === 1,
      ),
    close: () => source.destroy(),
  };
}
