import { describe, expect, it } from 'vitest';
import { defineTable, SluiceError } from '../../../src/index.js';
import { cachedKv, cachedReadings, plainKv } from '../../support/cached-tables.js';
import { forEachDialect } from '../../support/databases.js';

const hotKv = defineTable('hot_kv', {
  columns: { id: 'integer', version: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 20, maxEntries: 100 },
});
const tables = [cachedKv, cachedReadings, plainKv, hotKv];

forEachDialect('cache read-through', (t) => {
  it('serves a second get from L1, remembers absent keys, and sees an insert of an absent key', async () => {
    const db = await t.open({ tables, name: 'basic' });
    await db.migrate();
    const kv = db.table(cachedKv);
    await kv.insert({ id: 1, version: 1, writer: 'a' });
    expect(await kv.get(1)).toMatchObject({ id: 1, version: 1 });
    expect(await kv.get(1)).toMatchObject({ id: 1, version: 1 });
    expect(await kv.get(2)).toBeUndefined();
    expect(await kv.get(2)).toBeUndefined();
    const before = db.stats().cache.tables.cached_kv!;
    expect(before).toMatchObject({ hits: 2, misses: 2, loads: 2 });
    await kv.insert({ id: 2, version: 7, writer: 'a' });
    expect(await kv.get(2)).toMatchObject({ version: 7 });
    await kv.delete(1);
    expect(await kv.get(1)).toBeUndefined();
  });

  it('returns frozen rows, so a caller cannot change what the next caller reads', async () => {
    const db = await t.open({ tables, name: 'frozen' });
    await db.migrate();
    const readings = db.table(cachedReadings);
    await readings.insert({ sensor: 's', at: 1, value: 1.5, tags: { a: [1] } });
    const row = (await readings.get({ sensor: 's', at: 1 }))!;
    expect(() => {
      (row as { value: number }).value = 9;
    }).toThrow(TypeError);
    expect(() => (row.tags as { a: number[] }).a.push(2)).toThrow(TypeError);
    expect(await readings.get({ sensor: 's', at: 1 })).toMatchObject({ value: 1.5, tags: { a: [1] } });
  });

  it('reads its own writes while many writers commit concurrently', async () => {
    const db = await t.open({ tables, name: 'ryw' });
    await db.migrate();
    const kv = db.table(cachedKv);
    const keys = 64;
    const writers = 8;
    for (let id = 0; id < keys; id++) await kv.insert({ id, version: 0, writer: `w${id % writers}` });
    const acked = new Array<number>(keys).fill(0);
    let violations = 0;
    let reads = 0;
    const writer = async (w: number) => {
      for (let round = 1; round <= 60; round++) {
        for (let id = w; id < keys; id += writers) {
          const version = round;
          const pending = kv.update(id, { version });
          // A read racing the write may see either version, never an older one than acknowledged.
          const racing = kv.get(id);
          await pending;
          acked[id] = version;
          const [raced, after] = await Promise.all([racing, kv.get(id)]);
          reads += 2;
          if ((raced?.version ?? -1) < version - 1) violations++;
          if ((after?.version ?? -1) < version) violations++;
        }
      }
    };
    const reader = async () => {
      for (let i = 0; i < 3000; i++) {
        const id = i % keys;
        const floor = acked[id]!;
        const row = await kv.get(id);
        reads++;
        if ((row?.version ?? -1) < floor) violations++;
      }
    };
    await Promise.all([...Array.from({ length: writers }, (_, w) => writer(w)), reader(), reader()]);
    expect(reads).toBeGreaterThan(10_000);
    expect(violations).toBe(0);
    for (let id = 0; id < keys; id++) expect((await kv.get(id))?.version).toBe(60);
    expect(db.stats().cache.l1.hits).toBeGreaterThan(0);
  });

  it('loads an expired hot key once for 200 concurrent reads', async () => {
    const db = await t.open({ tables, name: 'stampede' });
    await db.migrate();
    const hot = db.table(hotKv);
    await hot.insert({ id: 1, version: 1 });
    await hot.get(1);
    const loads = () => db.stats().cache.tables.hot_kv!.loads;
    const before = loads();
    await new Promise((resolve) => setTimeout(resolve, 40)); // past the 20 ms TTL
    const rows = await Promise.all(Array.from({ length: 200 }, () => hot.get(1)));
    expect(rows.every((row) => row?.version === 1)).toBe(true);
    expect(loads() - before).toBe(1);
  });

  it('does not let a load that began before a commit serve or fill after it', async () => {
    const db = await t.open({ tables, name: 'overtaken' });
    await db.migrate();
    const kv = db.table(cachedKv);
    await kv.insert({ id: 5, version: 1, writer: 'a' });
    const early = kv.get(5); // a miss: its load is in flight
    await kv.update(5, { version: 2 });
    await early;
    expect(await kv.get(5)).toMatchObject({ version: 2 });
  });

  it('caches find and count by normalised query until the table is written', async () => {
    const db = await t.open({ tables, name: 'queries' });
    await db.migrate();
    const kv = db.table(cachedKv);
    for (let id = 0; id < 10; id++) await kv.insert({ id, version: id % 3, writer: 'a' });
    const q = () => kv.find({ where: { version: { $in: [1, 2] } }, orderBy: '-id', limit: 5, cache: true });
    const first = await q();
    const second = await q();
    expect(second).toEqual(first);
    expect(await kv.count({ version: 0 }, { cache: true })).toBe(4);
    expect(await kv.count({ version: 0 }, { cache: true })).toBe(4);
    expect(db.stats().cache.queries).toMatchObject({ hits: 2, misses: 2 });
    second.push(second[0]!); // the caller's array is its own
    expect(await q()).toHaveLength(5);
    await kv.insert({ id: 10, version: 0, writer: 'a' });
    expect(await kv.count({ version: 0 }, { cache: true })).toBe(5);
    expect((await q()).map((r) => r.id)).toEqual(first.map((r) => r.id));
    // Without { cache: true } on a table without `queries`, nothing is cached.
    const misses = db.stats().cache.queries.misses;
    await kv.count({ version: 0 });
    expect(db.stats().cache.queries.misses).toBe(misses);
    // A table with `queries: true` caches by default; { cache: false } opts out.
    const readings = db.table(cachedReadings);
    await readings.insert({ sensor: 'a', at: 1, value: 1 });
    expect(await readings.count()).toBe(1);
    expect(await readings.count()).toBe(1);
    expect(db.stats().cache.tables.cached_readings!.queryHits).toBe(1);
    await readings.upsert({ sensor: 'a', at: 2, value: 2 });
    expect(await readings.count()).toBe(2);
    expect(await readings.count(undefined, { cache: false })).toBe(2);
  });

  it('warms a table from a query', async () => {
    const db = await t.open({ tables, name: 'warm' });
    await db.migrate();
    const kv = db.table(cachedKv);
    for (let id = 0; id < 20; id++) await kv.insert({ id, version: 1, writer: 'a' });
    expect(await db.warm(cachedKv, { where: { id: { $lt: 10 } } })).toBe(10);
    const loads = db.stats().cache.tables.cached_kv!.loads;
    for (let id = 0; id < 10; id++) expect(await kv.get(id)).toMatchObject({ id, version: 1 });
    expect(db.stats().cache.tables.cached_kv!.loads).toBe(loads);
    await expect(db.warm(plainKv)).rejects.toMatchObject({ code: 'CONFIG' });
    // A commit racing a warm: whichever lands first, the committed version is what reads see.
    const [warmed] = await Promise.all([db.warm(cachedKv, { where: { id: { $gte: 10 } } }), kv.update(15, { version: 2 })]);
    expect(warmed).toBeGreaterThanOrEqual(9);
    expect(await kv.get(15)).toMatchObject({ version: 2 });
  });

  it('refuses { cache: true } on a table without a policy, and reads after close', async () => {
    const db = await t.open({ tables, name: 'misuse' });
    await db.migrate();
    const plain = db.table(plainKv);
    await expect(plain.find({ cache: true })).rejects.toMatchObject({ code: 'CONFIG', table: 'plain_kv' });
    await expect(plain.count({}, { cache: true })).rejects.toThrow(/has no cache policy/);
    const kv = db.table(cachedKv);
    await db.close();
    await expect(kv.get(1)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('publishes its figures in stats() and the metrics registry', async () => {
    const db = await t.open({ tables, name: 'metrics' });
    await db.migrate();
    const kv = db.table(cachedKv);
    await kv.insert({ id: 1, version: 1, writer: 'a' });
    await kv.get(1);
    await kv.get(1);
    const stats = db.stats().cache;
    expect(stats.l1).toMatchObject({ hits: 1, misses: 1, hitRatio: 0.5, entries: 1 });
    expect(stats.loads.count).toBe(1);
    const text = await db.metrics.metrics();
    expect(text).toContain('sluice_cache_hits_total{tier="l1"} 1');
    expect(text).toContain('sluice_cache_misses_total{tier="l1"} 1');
    expect(text).toMatch(/sluice_cache_load_seconds_count [1-9]/);
  });
});

describe('cache policy checks', () => {
  const define = (cache: unknown) => () =>
    defineTable('t', { columns: { id: 'integer' }, primaryKey: 'id', cache: cache as { ttlMs: number; maxEntries: number } });

  it('refuses an unbounded or never-expiring cache', () => {
    expect(define({ ttlMs: 1000 })).toThrow(/needs maxEntries: an unbounded/);
    expect(define({ maxEntries: 10 })).toThrow(/needs ttlMs/);
    expect(define({ ttlMs: 1000, maxEntries: 0 })).toThrow(/maxEntries must be a whole number >= 1, got 0/);
    expect(define({ ttlMs: 1000, maxEntries: 10, maxBytes: Number.POSITIVE_INFINITY })).toThrow(/maxBytes must be a whole number/);
  });

  it('names misspelt and mistyped options', () => {
    expect(define({ ttlMs: 1000, maxEntries: 10, maxEntires: 5 })).toThrow(/unknown option "maxEntires"; did you mean "maxEntries"/);
    expect(define({ ttlMs: 1000, maxEntries: 10, l2: 'yes' })).toThrow(/l2 must be true or false, got "yes"/);
    expect(define('fast')).toThrow(/must be an object/);
    // toThrow alone would pass on any error; the code and table are the contract.
    const error = (() => {
      try {
        define({ ttlMs: -1, maxEntries: 1 })();
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'CONFIG', table: 't' });
  });

  it('keeps the checked policy on the definition', () => {
    expect(define({ ttlMs: 1000, maxEntries: 10 })().cache).toEqual({
      ttlMs: 1000,
      maxEntries: 10,
      maxBytes: 64 * 1024 * 1024,
      l2: false,
      negativeTtlMs: 1000,
      queries: false,
    });
  });
});
