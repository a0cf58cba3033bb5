import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { defineTable } from '../../../src/index.js';
import { cachedKv, sharedKv } from '../../support/cached-tables.js';
import { forEachDialect } from '../../support/databases.js';
import { redisListening, redisPrefix } from '../../support/redis-prefix.js';
import { needsSharedRedis } from '../../support/redis-suite.js';
import { redisUrl } from '../../support/services.js';

const hotShared = defineTable('hot_shared', {
  columns: { id: 'integer', version: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 20, maxEntries: 100, l2: true },
});
const tables = [sharedKv, cachedKv, hotShared];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

forEachDialect('cache L2 (Redis)', (t) => {
  needsSharedRedis();
  const keyPrefix = redisPrefix(`l2-${t.dialect}`);

  it('shares rows between instances and applies other instances invalidations', async () => {
    // Short, yet long enough that a loaded machine does not miss keepalives (half the bound) in the middle.
    const staleBoundMs = 200;
    const cache = { redisUrl, keyPrefix, staleBoundMs };
    const a = await t.open({ tables, name: 'shared', cache });
    await a.migrate();
    const b = await t.open({ tables, name: 'shared', cache });
    await Promise.all([redisListening(() => a.stats()), redisListening(() => b.stats())]);
    const ka = a.table(sharedKv);
    const kb = b.table(sharedKv);
    // On SQLite each instance sees any commit through data_version (until the dialect offers the
    // writer's own counter, its own commits too) and then drops its L1 and bumps the Redis epoch
    // once; let that happen before measuring what is shared.
    const settle = async () => {
      await sleep(staleBoundMs);
      await Promise.all([ka.get(-1), kb.get(-1)]);
      await sleep(20);
    };
    await ka.insert({ id: 1, version: 1, writer: 'a' });
    await settle();
    expect(await ka.get(1)).toMatchObject({ version: 1 }); // a: L1 miss, L2 miss, load, fill
    await until('the fill', async () => {
      const r = new Redis(redisUrl);
      const n = await r.exists(`${keyPrefix}r:shared_kv:1`);
      r.disconnect();
      return n === 1;
    });
    await settle();
    const loadsBefore = b.stats().cache.tables.shared_kv!.loads;
    expect(await kb.get(1)).toMatchObject({ version: 1, writer: 'a' }); // b: L2 hit, no load
    expect(b.stats().cache.l2.hits).toBe(1);
    expect(b.stats().cache.tables.shared_kv!.loads).toBe(loadsBefore);
    expect(await kb.get(1)).toMatchObject({ version: 1 }); // b: L1 hit

    const heard = b.stats().cache.l2.remoteMessages;
    await ka.update(1, { version: 2 });
    expect(await ka.get(1)).toMatchObject({ version: 2 }); // a reads its own write at once
    await until('b to hear of the commit', () => b.stats().cache.l2.remoteMessages > heard);
    expect(await kb.get(1)).toMatchObject({ version: 2 });

    // An L1-only table's keys travel on the channel too, so instances of any dialect agree.
    const ca = a.table(cachedKv);
    const cb = b.table(cachedKv);
    await ca.insert({ id: 7, version: 1, writer: 'a' });
    expect(await cb.get(7)).toMatchObject({ version: 1 });
    const messages = b.stats().cache.l2.remoteMessages;
    await ca.update(7, { version: 2 });
    await until('b to hear of the second commit', () => b.stats().cache.l2.remoteMessages > messages);
    expect(await cb.get(7)).toMatchObject({ version: 2 });
    // Negative entries are shared too: an absent key is absent for both, then present for both.
    expect(await ka.get(50)).toBeUndefined();
    expect(await kb.get(50)).toBeUndefined();
    await kb.insert({ id: 50, version: 1, writer: 'b' });
    await until('a to hear of the insert', async () => (await ka.get(50)) !== undefined);
  });

  it('drops L1 and listens again after its channel connection is killed', async () => {
    const cache = { redisUrl, keyPrefix: `${keyPrefix}kill:` };
    const a = await t.open({ tables, name: 'kill', cache });
    await a.migrate();
    await redisListening(() => a.stats());
    const kv = a.table(sharedKv);
    await kv.insert({ id: 1, version: 1, writer: 'a' });
    await kv.get(1);
    expect(a.stats().cache.l1.entries).toBe(1);
    const admin = new Redis(redisUrl);
    try {
      const list = (await admin.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((line) => line.includes(`name=${cache.keyPrefix}sub `))
        .map((line) => /id=(\d+)/.exec(line)?.[1]);
      expect(ids).toHaveLength(1);
      await admin.client('KILL', 'ID', ids[0]!);
    } finally {
      admin.disconnect();
    }
    await until('the resync', () => a.stats().cache.l2.resyncs >= 1);
    expect(a.stats().cache.l1.entries).toBe(0);
    await redisListening(() => a.stats());
    expect(await kv.get(1)).toMatchObject({ version: 1 });
  });

  it('loads an expired hot key at most once per instance for 200 concurrent reads in each of two', async () => {
    const cache = { redisUrl, keyPrefix: `${keyPrefix}hot:` };
    const a = await t.open({ tables, name: 'hot', cache });
    await a.migrate();
    const b = await t.open({ tables, name: 'hot', cache });
    await Promise.all([redisListening(() => a.stats()), redisListening(() => b.stats())]);
    await a.table(hotShared).insert({ id: 1, version: 1 });
    await Promise.all([a.table(hotShared).get(1), b.table(hotShared).get(1)]);
    await sleep(40); // past the 20 ms TTL in both tiers
    const loads = (db: typeof a) => db.stats().cache.tables.hot_shared!.loads;
    const before = [loads(a), loads(b)];
    const rows = await Promise.all(Array.from({ length: 200 }, () => [a.table(hotShared).get(1), b.table(hotShared).get(1)]).flat());
    expect(rows.every((row) => row?.version === 1)).toBe(true);
    expect(loads(a) - before[0]!).toBeLessThanOrEqual(1);
    expect(loads(b) - before[1]!).toBeLessThanOrEqual(1);
  });
});
