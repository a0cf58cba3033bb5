import { beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, type SluiceError, type Table } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

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
async function expireLease(files: Table<typeof media>, path: string, token: number): Promise<void> {
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
    expect(media.columns.map((c) => c.name)).toEqual(['path', 'status', 'size', 'attempt', 'leaseOwner', 'leaseExpiresAt', 'lastError']);
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
    expect(await files.transition('a', 'completed')).toEqual({ applied: true });
    expect(await files.transition('a', 'failed')).toEqual({ applied: false });
    const late = await files.transition('a', 'failed', { returning: 'row' });
    expect(late).toMatchObject({ applied: false, row: { status: 'completed' } });
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
