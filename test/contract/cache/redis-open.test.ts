import { createConnection, createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { sharedKv } from '../../support/cached-tables.js';
import { forEachDialect } from '../../support/databases.js';
import { redisListening, redisPrefix } from '../../support/redis-prefix.js';
import { needsSharedRedis } from '../../support/redis-suite.js';
import { redisUrl } from '../../support/services.js';
import { throwawayRedis } from '../../support/throwaway-redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to Redis that holds every new connection back for `delayMs`: a slow first connect. */
async function slowProxy(target: string, delayMs: number): Promise<{ url: string; server: Server }> {
  const { hostname, port } = new URL(target);
  const server = createServer((client) => {
    client.on('error', () => {});
    setTimeout(() => {
      const upstream = createConnection(Number(port), hostname);
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `redis://127.0.0.1:${address.port}`, server };
}

forEachDialect('cache: Redis at open', (t) => {
  needsSharedRedis();
  const keyPrefix = redisPrefix(`open-${t.dialect}`);
  const server = throwawayRedis();

  it('a write made straight after open() reaches an instance that already cached the row', async () => {
    const staleBoundMs = 200;
    const cache = { redisUrl, keyPrefix, staleBoundMs };
    const reader = await t.open({ tables: [sharedKv], name: 'first-write', cache });
    await reader.migrate();
    await redisListening(() => reader.stats());
    const kv = reader.table(sharedKv);
    const keys = 20;
    for (let id = 0; id < keys; id++) await kv.insert({ id, version: 1, writer: 'reader' });
    await sleep(staleBoundMs); // SQLite: our own inserts seen through data_version once, then quiet
    for (let id = 0; id < keys; id++) await kv.get(id);
    let stale = 0;
    // Each round a new instance, whose connections to Redis take a while (shorter, then longer
    // than open() waits), opens and at once updates every key the reader holds.
    const proxies = await Promise.all([100, 600, 600].map((delay) => slowProxy(redisUrl, delay)));
    afterAll(() => {
      for (const proxy of proxies) proxy.server.close();
    });
    for (let round = 2; round <= 4; round++) {
      const slow = { ...cache, redisUrl: proxies[round - 2]!.url };
      const writer = await t.open({ tables: [sharedKv], name: 'first-write', cache: slow });
      for (let id = 0; id < keys; id++) await writer.table(sharedKv).update(id, { version: round });
      const acked = performance.now();
      await sleep(staleBoundMs + 20);
      for (let id = 0; id < keys; id++) if ((await kv.get(id))?.version !== round) stale++;
      expect(performance.now() - acked).toBeGreaterThan(staleBoundMs);
      await writer.close();
    }
    console.log('first write after open', JSON.stringify({ dialect: t.dialect, stale, reads: keys * 3 }));
    expect(stale).toBe(0);
  });

  it('a writer whose own command connection is killed tells the others once it reconnects', async () => {
    const staleBoundMs = 200;
    const prefix = `${keyPrefix}kill-cmd:`;
    const cache = { redisUrl, keyPrefix: prefix, staleBoundMs };
    const reader = await t.open({ tables: [sharedKv], name: 'kill-cmd', cache });
    await reader.migrate();
    const writer = await t.open({ tables: [sharedKv], name: 'kill-cmd', cache });
    await Promise.all([redisListening(() => reader.stats()), redisListening(() => writer.stats())]);
    const keys = 20;
    for (let id = 0; id < keys; id++) await writer.table(sharedKv).insert({ id, version: 0, writer: 'w' });
    await sleep(staleBoundMs);
    const admin = new Redis(redisUrl);
    let stale = 0;
    try {
      for (let round = 1; round <= 5; round++) {
        for (let id = 0; id < keys; id++) await reader.table(sharedKv).get(id);
        const list = (await admin.client('LIST')) as string;
        const ids = list
          .split('\n')
          .filter((line) => line.includes(`name=${prefix}cmd `))
          .map((line) => /id=(\d+)/.exec(line)?.[1] as string);
        // Both instances' command connections: the writer's commits find theirs gone.
        for (const id of ids) await admin.client('KILL', 'ID', id);
        for (let id = 0; id < keys; id++) await writer.table(sharedKv).update(id, { version: round });
        await sleep(staleBoundMs + 20);
        for (let id = 0; id < keys; id++) if ((await reader.table(sharedKv).get(id))?.version !== round) stale++;
      }
    } finally {
      admin.disconnect();
    }
    console.log('command connection killed', JSON.stringify({ dialect: t.dialect, stale, reads: keys * 5, l2: writer.stats().cache.l2 }));
    expect(stale).toBe(0);
  });

  it('opens in degraded mode when Redis is not running, says so, and trusts it once it answers', async () => {
    const redis = await server;
    const started = performance.now();
    const db = await t.open({ tables: [sharedKv], name: 'degraded', cache: { redisUrl: redis.url, keyPrefix, staleBoundMs: 300 } });
    const openMs = performance.now() - started;
    await db.migrate();
    const kv = db.table(sharedKv);
    await kv.insert({ id: 1, version: 1, writer: 'a' });
    expect(await kv.get(1)).toMatchObject({ version: 1 });
    const down = db.stats().cache.l2;
    expect(down.state).toBe('down');
    expect(down.trusted).toBe(false);
    expect(down.lastError).toMatch(/ECONNREFUSED/);
    expect(down.invalidationFailures).toBeGreaterThan(0);
    expect(openMs).toBeLessThan(1000);
    await redis.start();
    await redisListening(() => db.stats());
    // The insert's invalidation never reached Redis: the epoch is bumped before L2 is read.
    await sleep(50);
    expect(db.stats().cache.l2.state).toBe('trusted');
    expect(db.stats().cache.l2.epochBumps).toBeGreaterThan(0);
    await kv.update(1, { version: 2 });
    expect(await kv.get(1)).toMatchObject({ version: 2 });
    await db.close();
    await redis.kill9();
  });
});
