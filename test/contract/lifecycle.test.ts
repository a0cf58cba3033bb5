import BetterSqlite3 from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, type SluiceError, type Table } from '../../src/index.js';
import { forEachDialect, type TestDatabases } from '../support/databases.js';
import { withPostgres } from '../support/services.js';

const media = defineTable('media', {
  columns: { path: 'text', status: 'text', size: 'integer' },
  primaryKey: 'path',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed', 'pending'], failed: ['pending', 'dead'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 3, exhaustedTo: 'failed' },
  },
});

const simple = defineTable('docs', {
  columns: { id: 'integer', state: 'text' },
  primaryKey: 'id',
  lifecycle: { column: 'state', initial: 'draft', transitions: { draft: ['published'], published: ['archived'] } },
});

/** A lease runs out by the holder renewing it for a moment: callers cannot write lease columns. */
async function expireLease(files: Pick<Table<typeof media>, 'renew'>, path: string, token: number): Promise<void> {
  expect(await files.renew(path, token, 1)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 5));
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as SluiceError).code).toBe('CONFIG');
    return (error as SluiceError).message;
  }
  throw new Error('expected CONFIG');
}

describe('declaring a lifecycle', () => {
  it('refuses unknown states, unreachable states and unsuitable columns, naming them', () => {
    const columns = { id: 'integer', s: 'text', n: 'integer' } as const;
    expect(
      configError(() =>
        defineTable('t', { columns, primaryKey: 'id', lifecycle: { column: 's', initial: 'nope', transitions: { a: ['b'] } } }),
      ),
    ).toMatch(/initial state "nope" is not a state/);
    expect(
      configError(() =>
        defineTable('t', { columns, primaryKey: 'id', lifecycle: { column: 's', initial: 'a', transitions: { a: ['b'], c: ['a'] } } }),
      ),
    ).toMatch(/state\(s\) c cannot be reached from the initial state a/);
    expect(
      configError(() =>
        defineTable('t', { columns, primaryKey: 'id', lifecycle: { column: 'n', initial: 'a', transitions: { a: ['b'] } } }),
      ),
    ).toMatch(/must be a non-null text column/);
    expect(
      configError(() =>
        defineTable('t', {
          columns,
          primaryKey: 'id',
          lifecycle: { column: 's', initial: 'a', transitions: { a: ['b'] }, leases: { expireTo: 'zz' } },
        }),
      ),
    ).toMatch(/leases.expireTo "zz"/);
  });

  it('adds the lease columns and defaults the state column to the initial state', () => {
    expect(media.columns.map((c) => c.name)).toEqual([
      'path',
      'status',
      'size',
      'attempt',
      'leaseOwner',
      'leaseExpiresAt',
      'lastError',
      'runAt',
    ]);
    expect(media.columnsByName.get('status')?.constantDefault).toBe('pending');
  });
});

forEachDialect('lifecycles', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [media, simple] });
    await db.migrate();
  });

  it('applies an allowed transition as compare-and-set and reports one that lost the race', async () => {
    const files = db.table(media);
    await files.insert({ path: 'a', size: 1 });
    const moved = await files.transition('a', 'downloading', { set: { size: 2 }, returning: 'row' });
    expect(moved).toMatchObject({ applied: true, row: { status: 'downloading', size: 2 } });
    const again = await files.transition('a', 'downloading', { from: 'pending', returning: 'row' });
    expect(again).toMatchObject({ applied: false, row: { status: 'downloading' } });
    // By default a transition reads nothing back: it says whether it applied.
    expect(await files.transition('a', 'completed')).toEqual({ applied: true, state: 'completed' });
    // A move that did not apply says where the row is, read in the refused write's own transaction.
    expect(await files.transition('a', 'failed')).toEqual({ applied: false, state: 'completed' });
    const late = await files.transition('a', 'failed', { returning: 'row' });
    expect(late).toMatchObject({ applied: false, state: 'completed', row: { status: 'completed' } });
    await expect(files.transition('a', 'failed', { returning: 'rows' } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('lets exactly one of many concurrent transitions from one state win', async () => {
    const files = db.table(media);
    await files.insert({ path: 'race', size: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, () => files.transition('race', 'downloading', { from: 'pending' })));
    expect(results.filter((r) => r.applied)).toHaveLength(1);
  });

  it('refuses moves the lifecycle does not have with ILLEGAL_TRANSITION, and absent rows with NOT_FOUND', async () => {
    const docs = db.table(simple);
    await docs.insert({ id: 1 });
    await expect(docs.transition(1, 'archived', { from: 'draft' })).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION', table: 'docs' });
    await expect(docs.transition(1, 'deleted' as never)).rejects.toThrow(/"deleted" is not a state/);
    await expect(docs.transition(1, 'draft')).rejects.toThrow(/no state may move to "draft"/);
    await expect(docs.transition(99, 'published')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await docs.get(1))?.state).toBe('draft');
  });

  it('claims rows so that concurrent claimers never share one, with a fencing token', async () => {
    const files = db.table(media);
    await Promise.all(Array.from({ length: 40 }, (_, i) => files.insert({ path: `job-${String(i).padStart(2, '0')}`, size: i })));
    const batches = await Promise.all(
      Array.from({ length: 6 }, (_, w) =>
        files.claim({ from: 'pending', to: 'downloading', limit: 8, leaseMs: 60_000, owner: `w${w}`, where: { path: { $like: 'job-%' } } }),
      ),
    );
    const claimed = batches.flat();
    expect(claimed).toHaveLength(40);
    expect(new Set(claimed.map((r) => r.path)).size).toBe(40);
    for (const row of claimed) {
      expect(row).toMatchObject({ status: 'downloading', attempt: 1 });
      expect(row.leaseOwner).toMatch(/^w\d$/);
      expect(row.leaseExpiresAt?.getTime()).toBeGreaterThan(Date.now());
    }
    expect(
      await files.claim({
        from: 'pending',
        to: 'downloading',
        limit: 5,
        leaseMs: 1000,
        owner: 'late',
        where: { path: { $like: 'job-%' } },
      }),
    ).toEqual([]);
  });

  it('lets only the current lease holder settle or renew; the reaper hands expired leases back', async () => {
    const files = db.table(media);
    await files.insert({ path: 'lease', size: 0 });
    const [first] = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 1,
      leaseMs: 60_000,
      owner: 'slow',
      where: { path: 'lease' },
    });
    expect(first?.attempt).toBe(1);
    await expireLease(files, 'lease', 1);
    expect(await files.reapExpired()).toMatchObject({ returned: 1 });
    expect(await files.get('lease')).toMatchObject({ status: 'pending', leaseOwner: null, lastError: 'lease expired', attempt: 1 });
    const [second] = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 1,
      leaseMs: 60_000,
      owner: 'fast',
      where: { path: 'lease' },
    });
    expect(second?.attempt).toBe(2);
    expect(await files.renew('lease', 1, 60_000)).toBe(false);
    expect(await files.transition('lease', 'completed', { token: 1 })).toMatchObject({ applied: false });
    expect(await files.renew('lease', 2, 60_000)).toBe(true);
    expect(await files.transition('lease', 'completed', { token: 2, returning: 'row' })).toMatchObject({
      applied: true,
      row: { status: 'completed', leaseOwner: null },
    });
  });

  it('moves a row past maxAttempts to the exhausted state with the last error', async () => {
    const files = db.table(media);
    await files.insert({ path: 'doomed', size: 0 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [row] = await files.claim({
        from: 'pending',
        to: 'downloading',
        limit: 1,
        leaseMs: 60_000,
        owner: 'w',
        where: { path: 'doomed' },
      });
      expect(row?.attempt).toBe(attempt);
      await expireLease(files, 'doomed', attempt);
      await files.reapExpired();
    }
    expect(await files.get('doomed')).toMatchObject({ status: 'failed', lastError: 'lease expired after 3 attempts', attempt: 3 });
  });

  it('records every state change in the history table', async () => {
    const files = db.table(media);
    await files.insert({ path: 'hist', size: 0 });
    await files.transition('hist', 'downloading');
    await files.transition('hist', 'failed');
    const history = await files.history('hist');
    expect(history.map((h) => [h.from, h.to])).toEqual([
      [null, 'pending'],
      ['pending', 'downloading'],
      ['downloading', 'failed'],
    ]);
    expect(history[2]?.at).toBeInstanceOf(Date);
  });
});

/** The README's own lifecycle: no declared move leads back from `downloading` to `pending`. */
const readmeFiles = defineTable('readme_files', {
  columns: { path: 'text', status: 'text', size: 'integer' },
  primaryKey: 'path',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 5, exhaustedTo: 'failed' },
  },
});

/** A foreign writer's UPDATE (raw driver, outside Sluice): resolves with the error message it met, if any. */
async function foreignUpdate(t: TestDatabases, sql: string, params: unknown[]): Promise<string | undefined> {
  const where = t.location();
  try {
    if (t.dialect === 'sqlite') {
      const raw = new BetterSqlite3(where.url.slice('sqlite:'.length), { timeout: 5000 });
      try {
        raw.prepare(sql).run(...params);
      } finally {
        raw.close();
      }
    } else {
      await withPostgres(async (client) => {
        await client.query(`set search_path to "${where.schema}"`);
        await client.query(
          sql.replace(/\?/g, (_, i: number) => `$${sql.slice(0, i).split('?').length}`),
          params,
        );
      });
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

forEachDialect('leases imply their return moves', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [readmeFiles], maintenance: { reapIntervalMs: 0 } });
    await db.migrate();
  });

  it("the reaper hands a crashed worker's rows back on the README's lifecycle, which declares no downloading -> pending", async () => {
    const files = db.table(readmeFiles);
    const paths = Array.from({ length: 20 }, (_, i) => `crashed-${i}`);
    await Promise.all(paths.map((path) => files.insert({ path, size: 1 })));
    const claimed = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 20,
      leaseMs: 60_000,
      owner: 'crashed',
      where: { path: { $like: 'crashed-%' } },
    });
    expect(claimed).toHaveLength(20);
    // The worker dies: its leases lapse without a settle.
    for (const row of claimed) await expireLease(files, row.path, row.attempt);
    expect(await files.reapExpired()).toEqual({ returned: 20, exhausted: 0 });
    const stranded = await files.count({ path: { $like: 'crashed-%' }, status: { $ne: 'pending' } });
    expect(stranded).toBe(0);
    expect(await files.history('crashed-0')).toMatchObject([
      { from: null, to: 'pending' },
      { from: 'pending', to: 'downloading', actor: 'crashed' },
      { from: 'downloading', to: 'pending' },
    ]);
    // Handed back, the rows are claimable again, under a higher token.
    const again = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 20,
      leaseMs: 60_000,
      owner: 'next',
      where: { path: { $like: 'crashed-%' } },
    });
    expect(again.map((r) => r.attempt)).toEqual(Array(20).fill(2));
  });

  it('exhausts a row past maxAttempts to exhaustedTo, and a worker may release what it holds with its token', async () => {
    const files = db.table(readmeFiles);
    await files.insert({ path: 'released', size: 1 });
    const [held] = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 1,
      leaseMs: 60_000,
      owner: 'w',
      where: { path: 'released' },
    });
    expect(await files.transition('released', 'pending', { token: (held?.attempt ?? 0) + 1 })).toEqual({
      applied: false,
      state: 'downloading',
    });
    expect(await files.transition('released', 'pending', { token: held?.attempt })).toEqual({ applied: true, state: 'pending' });
    expect(await files.get('released')).toMatchObject({ status: 'pending', leaseOwner: null });
    // Not holding a lease, a row in a working state follows the declared moves only.
    await files.insert({ path: 'unleased', size: 1 });
    await files.transition('unleased', 'downloading');
    expect(await files.transition('unleased', 'pending')).toEqual({ applied: false, state: 'downloading' });
    expect(await files.transition('unleased', 'pending', { from: 'downloading' })).toEqual({ applied: false, state: 'downloading' });
    await expect(files.transition('unleased', 'completed', { from: 'pending' })).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });

    await files.insert({ path: 'tired', size: 1 });
    for (let attempt = 1; attempt <= 5; attempt++) {
      const [row] = await files.claim({
        from: 'pending',
        to: 'downloading',
        limit: 1,
        leaseMs: 60_000,
        owner: 'w',
        where: { path: 'tired' },
      });
      await expireLease(files, 'tired', row?.attempt ?? 0);
      await files.reapExpired();
    }
    expect(await files.get('tired')).toMatchObject({ status: 'failed', attempt: 5, lastError: 'lease expired after 5 attempts' });
  });

  it('never hands back a row in a final state, even with a stale lease a foreign writer left on it', async () => {
    const files = db.table(readmeFiles);
    await files.insert({ path: 'finished-foreign', size: 1 });
    const [held] = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 1,
      leaseMs: 60_000,
      owner: 'w',
      where: { path: 'finished-foreign' },
    });
    // A foreign writer finishes the row without clearing the lease.
    expect(await foreignUpdate(t, 'update readme_files set status = ? where path = ?', ['completed', 'finished-foreign'])).toBeUndefined();
    await expireLease(files, 'finished-foreign', held?.attempt ?? 0);
    await files.reapExpired();
    expect(await files.get('finished-foreign')).toMatchObject({ status: 'completed' });
    expect(await files.transition('finished-foreign', 'pending')).toEqual({ applied: false, state: 'completed' });
    expect(await foreignUpdate(t, 'update readme_files set status = ? where path = ?', ['pending', 'finished-foreign'])).toMatch(
      /illegal lifecycle transition/,
    );
  });

  it('the database allows the return move to any client for a row holding a lease, and refuses it otherwise', async () => {
    const files = db.table(readmeFiles);
    await files.insert({ path: 'foreign-held', size: 1 });
    await files.claim({ from: 'pending', to: 'downloading', limit: 1, leaseMs: 60_000, owner: 'w', where: { path: 'foreign-held' } });
    await files.insert({ path: 'foreign-free', size: 1 });
    await files.transition('foreign-free', 'downloading');
    const release = 'update readme_files set status = ?, lease_owner = null, lease_expires_at = null where path = ?';
    expect(await foreignUpdate(t, release, ['pending', 'foreign-held'])).toBeUndefined();
    expect(await foreignUpdate(t, release, ['pending', 'foreign-free'])).toMatch(/illegal lifecycle transition.*a row holding a lease/);
    // A finished row never held a lease: it cannot be sent back.
    await files.transition('foreign-free', 'completed');
    expect(await foreignUpdate(t, release, ['pending', 'foreign-free'])).toMatch(/illegal lifecycle transition/);
    expect(await files.get('foreign-held')).toMatchObject({ status: 'pending' });
    expect(await files.get('foreign-free')).toMatchObject({ status: 'completed' });
  });
});
