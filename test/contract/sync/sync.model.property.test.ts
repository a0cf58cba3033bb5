import { createConnection, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { type Database, defineTable, open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { withPostgres } from '../../support/services.js';
import { targetSchema } from './sync-support.js';

const modelKv = defineTable('sync_model_kv', {
  columns: { id: 'integer', version: 'integer', blob: 'blob?' },
  primaryKey: 'id',
  sync: true,
});

/** A TCP relay in front of the shared PostgreSQL that can be taken down: an outage without touching the server. */
async function outageProxy(): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  let isDown = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: 5432 });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Command =
  | { op: 'upsert'; id: number }
  | { op: 'delete'; id: number }
  | { op: 'flush' }
  | { op: 'reopen'; drainMs: number }
  | { op: 'outage'; down: boolean };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('upsert' as const), id: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const), drainMs: fc.constantFrom(0, 200) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('outage' as const), down: fc.boolean() }) },
);

describeWithPostgres('sync against a model', () => {
  const dir = tempDir('sluice-sync-model-');
  const proxies: Awaited<ReturnType<typeof outageProxy>>[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });
  const schema = targetSchema('model');
  let run = 0;

  it('writes, flushes, reopens and target outages end with the target equal to the last acknowledged state', async () => {
    const proxy = await outageProxy();
    proxies.push(proxy);
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40 }), async (commands) => {
        const file = `${dir}/model-${run++}.db`;
        const model = new Map<number, number>();
        let version = 0;
        let down = false;
        const openDb = async (drainMs = 5000): Promise<Database> => {
          const db = await open({
            url: `sqlite:${file}`,
            tables: [modelKv],
            sync: {
              target: proxy.url,
              schema,
              drainMs,
              intervalMs: 10,
              batchSize: 7,
              backoffInitialMs: 5,
              backoffMaxMs: 30,
              connectTimeoutMs: 500,
            },
            maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
          });
          await db.migrate();
          return db;
        };
        proxy.up();
        // Each run starts from an empty target table (the previous run's node rows stay, under their own ids).
        await withPostgres((c) => c.query(`drop table if exists "${schema}".sync_model_kv`));
        let db = await openDb();
        const targetState = async () =>
          withPostgres(
            async (c) =>
              new Map(
                (await c.query(`select id, version from "${schema}".sync_model_kv`)).rows.map((r) => [Number(r.id), Number(r.version)]),
              ),
          );
        try {
          for (const c of commands) {
            switch (c.op) {
              case 'upsert': {
                const v = ++version;
                await db.table(modelKv).upsert({ id: c.id, version: v, blob: v % 3 === 0 ? Buffer.from([v & 255, 0]) : null });
                model.set(c.id, v);
                break;
              }
              case 'delete':
                await db.table(modelKv).delete(c.id);
                model.delete(c.id);
                break;
              case 'flush':
                if (down) {
                  // With nothing pending there is nothing to ship; otherwise the outage is reported.
                  const pending = db.sync.status().pending;
                  await db.sync.flush().then(
                    () => expect(pending).toBe(0),
                    (error) => expect(error.code).toBe('UNAVAILABLE'),
                  );
                } else {
                  await db.sync.flush();
                  expect(await targetState()).toEqual(model);
                }
                break;
              case 'reopen':
                await db.close();
                db = await openDb(c.drainMs);
                break;
              case 'outage':
                down = c.down;
                if (down) proxy.down();
                else proxy.up();
                break;
            }
          }
          proxy.up();
          down = false;
          await flushWhenUp(db);
          expect(await targetState()).toEqual(model);
          expect(db.sync.status().pending).toBe(0);
        } finally {
          proxy.up();
          await db.close();
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});

/** After an outage the shipper may still be in its backoff; flush once it has reconnected. */
async function flushWhenUp(db: Database): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db.sync.flush();
      return;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
