import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { postgresAvailable, postgresUrl, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';
import { events, missing, sleep, startLoad } from './support/write-load.js';

/**
 * A TCP relay to PostgreSQL that can cut the connection carrying the next COMMIT: either after
 * passing it on while hiding the server's reply (the commit happened, the client cannot know), or
 * instead of passing it on, keeping the server's side open (the transaction stays in progress,
 * idle, until someone ends its backend).
 */
class CommitCutter {
  readonly #server: Server;
  readonly #held = new Set<Socket>();
  #trap: 'after' | 'instead' | undefined;
  cuts = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<CommitCutter> {
    const target = new URL(postgresUrl);
    const server = createServer();
    const cutter = new CommitCutter(server);
    server.on('connection', (client: Socket) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      let muted = false;
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', cut);
      upstream.on('error', cut);
      client.on('close', cut);
      upstream.on('close', cut);
      upstream.on('data', (chunk) => {
        if (!muted) client.write(chunk);
      });
      client.on('data', (chunk) => {
        const trap = cutter.#trap;
        if (trap !== undefined && chunk.includes('commit\0')) {
          cutter.#trap = undefined;
          cutter.cuts++;
          muted = true;
          if (trap === 'after') {
            upstream.write(chunk);
            setTimeout(cut, 100);
          } else {
            cutter.#held.add(upstream);
            upstream.removeAllListeners('close');
            client.removeAllListeners('close');
            client.destroy();
          }
          return;
        }
        upstream.write(chunk);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return cutter;
  }

  get url(): string {
    const url = new URL(postgresUrl);
    url.hostname = '127.0.0.1';
    url.port = String((this.#server.address() as { port: number }).port);
    return url.toString();
  }

  arm(trap: 'after' | 'instead'): void {
    this.#trap = trap;
  }

  close(): Promise<void> {
    for (const socket of this.#held) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('PostgreSQL connection loss and restart', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('restart');

  for (const trap of ['after', 'instead'] as const) {
    it(`settles a batch whose COMMIT reply was lost (${trap === 'after' ? 'it committed' : 'it never committed'}) exactly once`, async () => {
      const cutter = await CommitCutter.start();
      try {
        const db = await open({ url: cutter.url, tables: [events], postgres: { schema: schema.name } });
        try {
          await db.migrate();
          const t = db.table(events);
          const base = trap === 'after' ? 20_000_000 : 30_000_000;
          cutter.arm(trap);
          const results = await Promise.allSettled(
            Array.from({ length: 100 }, (_, i) => t.insert({ id: base + i, producer: 0, body: 'cut', at: new Date() })),
          );
          expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
          expect(cutter.cuts).toBe(1);
          expect(await t.count({ id: { $gte: base, $lt: base + 100 } })).toBe(100);
          expect(db.stats().storage).toMatchObject({ commitsLost: 1, commitsFoundCommitted: trap === 'after' ? 1 : 0, commitsUnknown: 0 });
        } finally {
          await db.close();
        }
      } finally {
        await cutter.close();
      }
    });
  }

  it('loses no acknowledged write when the writer connection is killed at random moments', async () => {
    const db = await schema.open({ tables: [events] });
    await db.migrate();
    const load = startLoad(db, 200, 1);
    let kills = 0;
    for (let i = 0; i < 30; i++) {
      await sleep(20 + Math.random() * 100);
      const { rowCount } = await withPostgres((c) =>
        c.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and state <> 'idle'", [
          `sluice writer ${schema.name}`,
        ]),
      );
      kills += rowCount ?? 0;
    }
    await sleep(300);
    await load.stop();
    await db.flush();
    const lost = await missing(schema.name, load.acknowledged);
    expect({ lost, unexpected: Object.keys(load.failures).filter((code) => code !== 'UNAVAILABLE' && code !== 'BUSY') }).toEqual({
      lost: 0,
      unexpected: [],
    });
    expect(kills).toBeGreaterThan(5);
    expect(load.acknowledged.length).toBeGreaterThan(1000);
    expect(db.stats().storage.writerReconnects as number).toBeGreaterThan(0);
  });
});
