import { copyFileSync, existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { items } from '../../support/tables.js';

/**
 * A file deleted or replaced under an open connection: SQLite would go on committing into the
 * unlinked inode, and every write acknowledged from then on would be gone for everyone else.
 * Each case counts the writes acknowledged after the damage; that count must be zero.
 */
describe('a deleted or replaced SQLite file', () => {
  const dir = tempDir();
  let n = 0;

  const damaged = async (damage: (file: string) => void) => {
    const file = join(dir, `identity-${n++}.db`);
    const db = await open({ url: `sqlite:${file}`, tables: [items] });
    await db.migrate();
    await Promise.all(Array.from({ length: 20 }, (_, i) => db.table(items).insert({ id: i, name: `before-${i}` })));
    damage(file);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => db.table(items).insert({ id: 1000 + i, name: `after-${i}` })),
    );
    const acknowledgedAfter = results.filter((r) => r.status === 'fulfilled').length;
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error & { code: string }] : []));
    await db.close();
    return { acknowledgedAfter, reasons, file };
  };

  it('refuses every write once the WAL is deleted, saying what happened', async () => {
    const { acknowledgedAfter, reasons } = await damaged((file) => {
      expect(existsSync(`${file}-wal`)).toBe(true);
      unlinkSync(`${file}-wal`);
    });
    expect(acknowledgedAfter).toBe(0);
    expect(reasons[0]).toMatchObject({ code: 'UNAVAILABLE' });
    expect(reasons[0]?.message).toMatch(/write-ahead log .*-wal was deleted/);
  });

  it('refuses every write once the database file is deleted', async () => {
    const { acknowledgedAfter, reasons } = await damaged((file) => unlinkSync(file));
    expect(acknowledgedAfter).toBe(0);
    expect(reasons[0]?.message).toMatch(/the database file .* was deleted/);
  });

  it('refuses every write once the database file is replaced by another', async () => {
    const { acknowledgedAfter, reasons } = await damaged((file) => {
      copyFileSync(file, `${file}.copy`);
      renameSync(`${file}.copy`, file);
    });
    expect(acknowledgedAfter).toBe(0);
    expect(reasons[0]?.message).toMatch(/was replaced by another file/);
  });

  it('keeps writing through checkpoints that truncate the WAL', async () => {
    const file = join(dir, `identity-${n++}.db`);
    const db = await open({ url: `sqlite:${file}`, tables: [items] });
    await db.migrate();
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => db.table(items).insert({ id: round * 100 + i, name: `r${round}-${i}` })));
      await db.diagnose();
    }
    expect(await db.table(items).count()).toBe(150);
    await db.close();
  });
});

describe('a file that is not a database, or is damaged', () => {
  it('open() refuses it with UNAVAILABLE saying what is wrong, never a raw driver error', async () => {
    const dir = tempDir();
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    await expect(open({ url: `sqlite:${garbage}`, tables: [items] })).rejects.toMatchObject({ name: 'SluiceError', code: 'UNAVAILABLE' });
    // A valid header over damaged pages: SQLite opens it, and the first read meets the damage.
    const damaged = join(dir, 'damaged.db');
    const db = await open({ url: `sqlite:${damaged}`, tables: [items] });
    await db.migrate();
    await db.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0x5a, 4096);
    writeFileSync(damaged, bytes);
    for (const suffix of ['-wal', '-shm']) if (existsSync(damaged + suffix)) unlinkSync(damaged + suffix);
    const reopened = open({ url: `sqlite:${damaged}`, tables: [items] });
    await expect(reopened).rejects.toMatchObject({ name: 'SluiceError', code: 'UNAVAILABLE' });
    await expect(reopened).rejects.toThrow(/damaged|malformed|not a database/);
  });
});
