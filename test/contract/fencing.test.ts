import { beforeAll, expect, it } from 'vitest';
import { foreignEnv, prepareForeignSqlite } from '../../src/cli/foreign/foreign-sqlite.js';
import { type Database, defineTable, type SluiceError } from '../../src/index.js';
import { forEachDialect, type TestDatabases } from '../support/databases.js';
import { foreignPython } from '../support/foreign-python.js';
import { withPostgres } from '../support/services.js';

const media = defineTable('fenced_media', {
  columns: { path: 'text', status: 'text', size: 'integer' },
  primaryKey: 'path',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed', 'pending'], failed: ['pending'] },
    leases: { expireTo: 'pending', maxAttempts: 5, exhaustedTo: 'failed' },
  },
});

/** Runs statements as a writer that never passes through Sluice; one result per statement. */
async function foreign(t: TestDatabases, statements: string[]): Promise<{ ok: boolean; error?: string }[]> {
  const where = t.location();
  if (t.dialect === 'postgres') {
    return withPostgres(async (client) => {
      await client.query(`set search_path to "${where.schema}"`);
      const results: { ok: boolean; error?: string }[] = [];
      for (const statement of statements) {
        try {
          await client.query(statement);
          results.push({ ok: true });
        } catch (error) {
          results.push({ ok: false, error: (error as Error).message });
        }
      }
      return results;
    });
  }
  const sqlite = await prepareForeignSqlite(() => {});
  return foreignPython(where.url.slice('sqlite:'.length), statements, sqlite.python, foreignEnv(sqlite));
}

async function refusal(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    return error as SluiceError;
  }
  throw new Error('expected the call to be refused');
}

forEachDialect('fencing tokens', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [media], maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 } });
    await db.migrate();
    // The guards are replaced on every migrate, never stacked or refused.
    await db.migrate();
  });

  const claimOne = (path: string, owner: string) =>
    db.table(media).claim({ from: 'pending', to: 'downloading', limit: 1, leaseMs: 60_000, owner, where: { path } });

  it('keeps the lease of a claimed row through an upsert (a rescan), so a stale settle stays refused', async () => {
    const files = db.table(media);
    await files.insert({ path: 'rescan', size: 1 });
    const [first] = await claimOne('rescan', 'w1');
    expect(first?.attempt).toBe(1);
    const upserted = await files.upsert({ path: 'rescan', size: 2 });
    expect(await files.get('rescan')).toMatchObject({ size: 2, status: 'pending', attempt: 1, leaseOwner: 'w1' });
    expect(upserted).toEqual(await files.get('rescan'));
    const [second] = await claimOne('rescan', 'w2');
    expect(second?.attempt).toBe(2);
    expect(await files.transition('rescan', 'completed', { token: 1, returning: 'row' })).toMatchObject({
      applied: false,
      row: { leaseOwner: 'w2' },
    });
    expect(await files.renew('rescan', 1, 60_000)).toBe(false);
    expect(await files.transition('rescan', 'completed', { token: 2, returning: 'row' })).toMatchObject({
      applied: true,
      row: { attempt: 2 },
    });
  });

  it('resolves every upsert of a run with the row as stored, lease kept or new', async () => {
    const files = db.table(media);
    const paths = ['run-a', 'run-b', 'run-c', 'run-d'];
    await Promise.all(paths.slice(0, 3).map((path) => files.insert({ path, size: 0 })));
    for (const path of paths.slice(0, 2)) await claimOne(path, `w-${path}`);
    // Submitted in one tick, the four upserts share one multi-row statement.
    const upserted = await Promise.all(paths.map((path, i) => files.upsert({ path, size: 10 + i })));
    const stored = await Promise.all(paths.map((path) => files.get(path)));
    expect(upserted).toEqual(stored);
    expect(upserted.map((row) => [row.attempt, row.leaseOwner])).toEqual([
      [1, 'w-run-a'],
      [1, 'w-run-b'],
      [0, null],
      [0, null],
    ]);
  });

  it('settles a claimed batch submitted in one tick row by row: a stale token sees the row as it is, a missing key NOT_FOUND, the rest apply', async () => {
    const files = db.table(media);
    const paths = Array.from({ length: 6 }, (_, i) => `batch-${i}`);
    await Promise.all(paths.map((path) => files.insert({ path, size: 0 })));
    const claimed = await files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 6,
      leaseMs: 60_000,
      owner: 'wb',
      where: { path: { $in: paths } },
    });
    expect(claimed).toHaveLength(6);
    // Submitted together, the settles share one multi-row statement (one UPDATE … FROM per run).
    const settled = await Promise.allSettled([
      ...paths.map((path, i) => files.transition(path, 'completed', { token: i === 2 ? 7 : 1, returning: 'row' })),
      files.transition('batch-absent', 'completed', { token: 1 }),
    ]);
    const values = settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as SluiceError).code));
    expect(values.slice(0, 6).map((v) => (v as { applied: boolean }).applied)).toEqual([true, true, false, true, true, true]);
    expect(values[2]).toMatchObject({ applied: false, state: 'downloading', row: { path: 'batch-2', leaseOwner: 'wb', attempt: 1 } });
    expect(values[0]).toMatchObject({ applied: true, row: { path: 'batch-0', status: 'completed' } });
    expect(values[6]).toBe('NOT_FOUND');
    expect((await files.get('batch-2'))?.status).toBe('downloading');
  });

  it('refuses lease columns in a caller write, naming table, column and value', async () => {
    const files = db.table(media);
    const upserted = await refusal(files.upsert({ path: 'forged', size: 1, attempt: 99 }));
    expect(upserted).toMatchObject({ code: 'VALIDATION', table: 'fenced_media', column: 'attempt', value: 99 });
    expect(upserted.message).toMatch(/fenced_media\.attempt.*99.*claim/);
    await expect(files.insert({ path: 'forged', size: 1, leaseOwner: 'me' })).rejects.toMatchObject({
      code: 'VALIDATION',
      column: 'leaseOwner',
      value: 'me',
    });
    await expect(files.insert({ path: 'forged', size: 1, leaseExpiresAt: new Date(1e12) })).rejects.toMatchObject({
      code: 'VALIDATION',
      column: 'leaseExpiresAt',
    });
    expect(await files.get('forged')).toBeUndefined();
    // The default is what every new row starts with, so passing it is allowed.
    expect(await files.insert({ path: 'forged', size: 1, attempt: 0, leaseOwner: null })).toMatchObject({ attempt: 0 });
    await expect(files.update('forged', { attempt: 0 })).rejects.toMatchObject({ code: 'VALIDATION', column: 'attempt', value: 0 });
    await expect(files.update('forged', { leaseExpiresAt: new Date() })).rejects.toMatchObject({
      code: 'VALIDATION',
      column: 'leaseExpiresAt',
    });
    await expect(files.transition('forged', 'downloading', { set: { attempt: 7 } })).rejects.toMatchObject({
      code: 'VALIDATION',
      column: 'attempt',
      value: 7,
    });
    const errors: unknown[] = [];
    const quiet = await t.open({ name: 'quiet', tables: [media], onError: (error) => errors.push(error) });
    await quiet.migrate();
    quiet.table(media).enqueue({ upsert: { path: 'e', size: 1, attempt: 5 } });
    await quiet.flush();
    expect(errors).toMatchObject([{ code: 'VALIDATION', column: 'attempt', value: 5 }]);
    // lastError is the worker's own note, not part of the lease.
    expect(await files.update('forged', { lastError: 'disk full' }, { returning: 'row' })).toMatchObject({
      lastError: 'disk full',
      attempt: 0,
    });
    expect(await files.get('forged')).toMatchObject({ status: 'pending', attempt: 0, leaseOwner: null });
  });

  it('refuses a foreign writer that lowers attempt, and lets one that claims raise it', async () => {
    const files = db.table(media);
    await files.insert({ path: 'foreign', size: 1 });
    await claimOne('foreign', 'w1');
    await files.transition('foreign', 'pending', { token: 1 });
    await claimOne('foreign', 'w1');
    const results = await foreign(t, [
      "update fenced_media set attempt = 0 where path = 'foreign'",
      "update fenced_media set attempt = attempt - 1, status = 'pending' where path = 'foreign'",
      "update fenced_media set attempt = attempt + 1, lease_owner = 'py' where path = 'foreign'",
    ]);
    expect(results[0]).toEqual({ ok: false, error: expect.stringMatching(/attempt.*fenced_media.*never decreases/) });
    expect(results[1]?.ok).toBe(false);
    expect(results[2]).toEqual({ ok: true });
    expect(await files.get('foreign')).toMatchObject({ status: 'downloading', attempt: 3, leaseOwner: 'py' });
  });

  it('checks renew and the options of transition, claim and renew strictly', async () => {
    const files = db.table(media);
    await files.insert({ path: 'opts', size: 1 });
    const [row] = await claimOne('opts', 'w1');
    const token = row?.attempt as number;
    for (const lease of [-1, 0, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(files.renew('opts', token, lease)).rejects.toMatchObject({ code: 'VALIDATION', value: lease });
    }
    await expect(files.renew('opts', 1.5, 1000)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(files.reapExpired(0)).rejects.toMatchObject({ code: 'VALIDATION', value: 0 });
    await expect(files.renew('opts', token, 1000, { priorty: 'high' } as never)).rejects.toThrow(/did you mean "priority"/);

    const claim = await refusal(files.claim({ form: 'pending', to: 'downloading', limit: 1, leaseMs: 1000, owner: 'x' } as never));
    expect(claim).toMatchObject({ code: 'VALIDATION', table: 'fenced_media' });
    expect(claim.message).toMatch(/"form".*did you mean "from"/);

    const settle = await refusal(files.transition('opts', 'completed', { tokn: token + 1 } as never));
    expect(settle).toMatchObject({ code: 'VALIDATION' });
    expect(settle.message).toMatch(/"tokn".*did you mean "token"/);
    await expect(files.transition('opts', 'completed', { token: '1' } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(files.transition('opts', 'completed', 'downloading' as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(files.transition('opts', 'completed', { set: { status: 'failed' } } as never)).rejects.toMatchObject({
      code: 'VALIDATION',
      column: 'status',
    });
    expect(await files.get('opts')).toMatchObject({ status: 'downloading', attempt: token, leaseOwner: 'w1' });
  });

  it('refuses a row in a state the lifecycle does not declare with VALIDATION naming the states, before it is written', async () => {
    const files = db.table(media);
    for (const write of [
      () => files.insert({ path: 'odd', size: 1, status: 'exploded' as never }),
      () => files.upsert({ path: 'odd', size: 1, status: 'exploded' as never }),
    ]) {
      const error = await refusal(write());
      expect(error).toMatchObject({ code: 'VALIDATION', table: 'fenced_media', column: 'status', value: 'exploded' });
      expect(error.message).toMatch(/pending, downloading, failed, completed/);
    }
    await files.insert({ path: 'odd', size: 1 });
    await expect(files.update('odd', { status: 'exploded' as never })).rejects.toMatchObject({ code: 'VALIDATION', column: 'status' });
    expect(await files.get('odd')).toMatchObject({ status: 'pending' });
  });
});
