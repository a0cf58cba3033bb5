import { setTimeout as sleep } from 'node:timers/promises';
import { SluiceError, type Table } from '../../index.js';
import type { MediaFilesTable } from '../media-files-table.js';
import type { AckLog } from './ack-log.js';
import type { NodeRole } from './stress-protocol.js';
import type { WorkerStats } from './worker-stats.js';

export interface RoleContext {
  readonly files: Table<MediaFilesTable>;
  readonly log: AckLog;
  readonly stats: WorkerStats;
  readonly name: string;
  readonly prefix: string;
  /** False once the run's end has passed: finish the step in hand, start no new one. */
  running(): boolean;
}

/** Files an ingester has in flight at once (a dock manager handles a handful per tick). */
const INGEST_CONCURRENCY = 32;
/** Items a scheduler claims per batch, and how many batches it has in hand at once. */
const CLAIM_BATCH = 32;
const CLAIM_LANES = 2;
/** Long enough that a working scheduler never loses a lease: a refused settle then is an error. */
const LEASE_MS = 30_000;
/** How often a scheduler lets one lease lapse on purpose, and how long it waits for the reaper. */
const LAPSE_EVERY_MS = 250;
const LAPSE_WAIT_MS = 5000;

export function runRole(role: NodeRole, ctx: RoleContext): Promise<void> {
  switch (role) {
    case 'ingester':
      return ingest(ctx);
    case 'scheduler':
      return schedule(ctx);
    case 'smoke':
      return smoke(ctx);
  }
}

/**
 * The dock manager (ingester): inserts each new file as DOWNLOADING (its transfer pending), then
 * settles the download by compare-and-set (DOWNLOADING → COMPLETED, or FAILED one time in ten).
 */
async function ingest(ctx: RoleContext): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (ctx.running()) {
      const path = `${ctx.prefix}${ctx.name}/${next++}`;
      const inserted = await ctx.stats.write('insert', () =>
        ctx.files.insert({ path, size: 1 + Math.floor(Math.random() * 1e9), downloadStatus: 'DOWNLOADING', transferStatus: 'pending' }),
      );
      if (!inserted.ok) continue;
      ctx.log.inserted(path, 'DOWNLOADING', 'pending');
      if (!ctx.running()) return;
      const status = Math.random() < 0.9 ? 'COMPLETED' : 'FAILED';
      const settled = await ctx.stats.write('download', () =>
        ctx.files.update(path, { downloadStatus: status, updatedAt: new Date() }, { where: { downloadStatus: 'DOWNLOADING' } }),
      );
      if (settled.ok) ctx.log.download(path, status);
    }
  };
  await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, lane));
}

/**
 * The sync scheduler, on the lifecycle: claims batches of downloaded files
 * (pending → downloading, under a lease, each with its fencing token) and settles each with
 * that token (completed, or failed one time in twenty). Beside that, one lease at a time is let
 * lapse on purpose: once the reaper has handed the item back (and usually another claim has
 * taken it), the old token is tried again and must be refused.
 */
async function schedule(ctx: RoleContext): Promise<void> {
  await Promise.all([...Array.from({ length: CLAIM_LANES }, () => claimLoop(ctx)), lapseLoop(ctx)]);
}

function claimBatch(ctx: RoleContext, limit: number, leaseMs: number, orderBy: string) {
  return ctx.stats.write(
    'claim',
    () =>
      ctx.files.claim({
        from: 'pending',
        to: 'downloading',
        limit,
        leaseMs,
        owner: ctx.name,
        where: { downloadStatus: 'COMPLETED', path: { $like: `${ctx.prefix}%` } },
        orderBy,
      }),
    undefined,
    (rows) => rows.length > 0,
  );
}

async function claimLoop(ctx: RoleContext): Promise<void> {
  while (ctx.running()) {
    const claimed = await claimBatch(ctx, CLAIM_BATCH, LEASE_MS, 'updatedAt');
    if (!claimed.ok || claimed.value.length === 0) {
      await sleep(5);
      continue;
    }
    ctx.log.claimed(
      claimed.value.map((row) => ({ path: row.path, token: row.attempt })),
      ctx.name,
    );
    ctx.stats.claims += claimed.value.length;
    await Promise.all(claimed.value.map((row) => settle(ctx, row.path, row.attempt, Math.random() < 0.95 ? 'completed' : 'failed', false)));
  }
}

async function lapseLoop(ctx: RoleContext): Promise<void> {
  while (ctx.running()) {
    await sleep(LAPSE_EVERY_MS);
    // A 1 ms lease: lapsed at once. The newest file, so the claim loops rarely meet it again first.
    const claimed = await claimBatch(ctx, 1, 1, '-updatedAt');
    const row = claimed.ok ? claimed.value[0] : undefined;
    if (row === undefined) continue;
    ctx.log.claimed([{ path: row.path, token: row.attempt }], ctx.name);
    ctx.stats.claims++;
    const giveUpAt = Date.now() + LAPSE_WAIT_MS;
    for (;;) {
      const now = await ctx.files.get(row.path).catch(() => undefined);
      const handedBack = now === undefined || now.attempt > row.attempt || now.transferStatus !== 'downloading';
      if (handedBack || Date.now() > giveUpAt || !ctx.running()) break;
      await sleep(20);
    }
    ctx.stats.lapsedSettlesTried++;
    await settle(ctx, row.path, row.attempt, 'completed', true);
  }
}

/**
 * Settles a claimed transfer with its token. A refusal is what a lapsed lease must get; within
 * the lease it is an error. An applied settle is logged either way: the checks afterwards judge
 * whether its token was still the item's current one.
 */
async function settle(ctx: RoleContext, path: string, token: number, status: 'completed' | 'failed', lapsed: boolean): Promise<void> {
  const result = await ctx.stats.write(
    'settle',
    () => ctx.files.transition(path, status, { from: 'downloading', token, set: { updatedAt: new Date() }, returning: 'row' }),
    undefined,
    (moved) => moved.applied,
  );
  if (!result.ok) return;
  const { applied, row } = result.value;
  if (applied) ctx.log.settled(path, status, token);
  else if (lapsed) ctx.stats.lapsedSettlesRefused++;
  else
    ctx.stats.failed(
      'settle',
      new SluiceError(
        'CONFLICT',
        `${path}: settling attempt ${token} was refused within its lease (the row is ${row.transferStatus}, attempt ${row.attempt}).`,
      ),
    );
}

/**
 * The smoke checker, at low priority: insert a test row, read it back, move it one
 * step along the lifecycle, delete it. Its rows stay DOWNLOADING so no scheduler claims them.
 */
async function smoke(ctx: RoleContext): Promise<void> {
  const low = { priority: 'low' } as const;
  for (let n = 0; ctx.running(); n++) {
    const path = `${ctx.prefix}${ctx.name}/${n}`;
    const inserted = await ctx.stats.write('insert', () => ctx.files.insert({ path, size: 1, downloadStatus: 'DOWNLOADING' }, low));
    if (!inserted.ok) continue;
    ctx.log.inserted(path, 'DOWNLOADING', inserted.value.transferStatus);
    const read = await ctx.files.get(path).catch((error: unknown) => {
      ctx.stats.failed('read', error);
      return null;
    });
    if (read === undefined) ctx.stats.readOwnWriteMisses++;
    const moved = await ctx.stats.write('transition', () =>
      ctx.files.transition(path, 'downloading', { ...low, from: 'pending', set: { updatedAt: new Date() } }),
    );
    if (moved.ok && moved.value.applied) ctx.log.transfer(path, 'downloading');
    else if (moved.ok)
      ctx.stats.failed('transition', new SluiceError('CONFLICT', `${path}: its own pending row could not move to downloading.`));
    const deleted = await ctx.stats.write('delete', () => ctx.files.delete(path, low));
    if (deleted.ok && deleted.value) ctx.log.deleted(path);
    else if (deleted.ok) ctx.stats.failed('delete', new SluiceError('NOT_FOUND', `${path} was acknowledged but gone before its delete.`));
  }
}
