import { expect, it } from 'vitest';
import { defineTable } from '../../../src/index.js';
import { forEachDialect } from '../../support/databases.js';
import { foreignPython } from '../../support/foreign-python.js';
import { redisListening, redisPrefix } from '../../support/redis-prefix.js';
import { redisAvailable, redisUrl } from '../../support/services.js';

/** No row cache on either table: derived values are invalidated by table, whatever the row policy. */
const streams = defineTable('streams', { columns: { id: 'text', title: 'text' }, primaryKey: 'id' });
const messages = defineTable('messages', { columns: { id: 'integer', streamId: 'text', text: 'text' }, primaryKey: 'id' });
const tables = [streams, messages];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachDialect('derived values (getOrSet)', (t) => {
  it('makes one loader call for 200 concurrent callers, then serves hits without calling it', async () => {
    const db = await t.open({ tables, name: 'flight' });
    await db.migrate();
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(20);
      return { built: calls };
    };
    const values = await Promise.all(Array.from({ length: 200 }, () => db.cache.getOrSet('ctx:1', loader, { ttlMs: 60_000 })));
    expect(calls).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(await db.cache.getOrSet('ctx:1', loader, { ttlMs: 60_000 })).toEqual({ built: 1 });
    expect(calls).toBe(1);
    expect(db.stats().cache.derived).toMatchObject({ hits: 1, misses: 200, loads: 1, entries: 1 });
  });

  it('drops a value when a table it depends on changes in this process, and not for other tables', async () => {
    const db = await t.open({ tables, name: 'local' });
    await db.migrate();
    await db.table(streams).insert({ id: 's1', title: 'first' });
    const context = () =>
      db.cache.getOrSet('context:s1', async () => (await db.table(streams).get('s1'))?.title, { ttlMs: 60_000, dependsOn: [streams] });
    expect(await context()).toBe('first');
    await db.table(messages).insert({ id: 1, streamId: 's1', text: 'unrelated' });
    expect(db.stats().cache.derived.invalidations).toBe(0);
    await db.table(streams).update('s1', { title: 'second' });
    // The write's promise resolved after the value was dropped: the next read recomputes.
    expect(await context()).toBe('second');
    db.cache.invalidate(streams);
    expect(db.stats().cache.derived.entries).toBe(0);
  });

  it('does not store what a loader read before a dependency changed under it', async () => {
    const db = await t.open({ tables, name: 'overtaken' });
    await db.migrate();
    await db.table(streams).insert({ id: 's2', title: 'old' });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = db.cache.getOrSet(
      'context:s2',
      async () => {
        const title = (await db.table(streams).get('s2'))?.title;
        await gate;
        return title;
      },
      { ttlMs: 60_000, dependsOn: [streams] },
    );
    await sleep(10);
    await db.table(streams).update('s2', { title: 'new' });
    release();
    expect(await slow).toBe('old');
    // The overtaken result went to its callers but was not kept.
    expect(await db.cache.getOrSet('context:s2', async () => (await db.table(streams).get('s2'))?.title, { ttlMs: 60_000 })).toBe('new');
    expect(db.stats().cache.derived.staleDrops).toBe(1);
  });

  it('serves the old value past its TTL while one loader refreshes it, and while the loader fails, until grace ends', async () => {
    const db = await t.open({ tables, name: 'grace' });
    await db.migrate();
    let version = 0;
    let failing = false;
    let calls = 0;
    const loader = async () => {
      calls++;
      await sleep(30);
      if (failing) throw new Error('source down');
      return ++version;
    };
    const options = { ttlMs: 50, graceMs: 300 };
    expect(await db.cache.getOrSet('g', loader, options)).toBe(1);
    await sleep(60);
    // Stale: answered at once with 1 while a refresh runs; the next caller after it sees 2.
    const before = calls;
    expect(await db.cache.getOrSet('g', loader, options)).toBe(1);
    expect(await db.cache.getOrSet('g', loader, options)).toBe(1);
    expect(calls).toBe(before + 1);
    await sleep(40);
    expect(await db.cache.getOrSet('g', loader, options)).toBe(2);
    failing = true;
    await sleep(60);
    for (let i = 0; i < 5; i++) {
      expect(await db.cache.getOrSet('g', loader, options)).toBe(2);
      await sleep(40);
    }
    await sleep(200);
    await expect(db.cache.getOrSet('g', loader, options)).rejects.toThrow('source down');
    expect(db.stats().cache.derived.graceHits).toBeGreaterThanOrEqual(7);
  });

  it('refuses bad options with VALIDATION', async () => {
    const db = await t.open({ tables, name: 'options' });
    await expect(db.cache.getOrSet('k', () => 1, {} as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(db.cache.getOrSet('k', () => 1, { ttlMs: 10, ttl: 5 } as never)).rejects.toThrow(/unknown option "ttl"/);
    await expect(db.cache.getOrSet('', () => 1, { ttlMs: 10 })).rejects.toThrow(/non-empty string/);
  });

  if (t.dialect === 'sqlite') {
    it('drops a value when another process writes a table it depends on, within the stale bound', async () => {
      const db = await t.open({ tables, name: 'foreign', cache: { staleBoundMs: 200 } });
      await db.migrate();
      await db.table(streams).insert({ id: 's3', title: 'mine' });
      const context = () =>
        db.cache.getOrSet('context:s3', async () => (await db.table(streams).get('s3'))?.title, { ttlMs: 60_000, dependsOn: [streams] });
      expect(await context()).toBe('mine');
      const file = t.location('foreign').url.slice('sqlite:'.length);
      expect(foreignPython(file, ["update streams set title = 'theirs' where id = 's3'"])).toEqual([{ ok: true }]);
      await sleep(120);
      expect(await context()).toBe('theirs');
    });
  }

  it('drops a value in another instance over Redis when this one commits, within the stale bound', async (context) => {
    if (!(await redisAvailable())) return context.skip();
    const keyPrefix = redisPrefix(`derived-${t.dialect}`);
    const cache = { redisUrl, keyPrefix, staleBoundMs: 500 };
    const a = await t.open({ tables, name: 'instances', cache });
    await a.migrate();
    const b = await t.open({ tables, name: 'instances', cache });
    await redisListening(() => a.stats());
    await redisListening(() => b.stats());
    await a.table(streams).insert({ id: 's4', title: 'v1' });
    const read = () =>
      b.cache.getOrSet('context:s4', async () => (await b.table(streams).get('s4'))?.title, { ttlMs: 60_000, dependsOn: [streams] });
    expect(await read()).toBe('v1');
    const wrote = Date.now();
    await a.table(streams).update('s4', { title: 'v2' });
    let seen = await read();
    while (seen !== 'v2' && Date.now() - wrote < 2000) {
      await sleep(5);
      seen = await read();
    }
    expect(seen).toBe('v2');
    expect(Date.now() - wrote).toBeLessThan(500);
  });
});
