import { expect, it } from 'vitest';
import { describeWithThrowawayPostgres } from '../../support/postgres-suite.js';
import { type ThrowawayPostgres, throwawayPostgres } from '../../support/throwaway-postgres.js';
import { postgresSchema } from './support/postgres-schema.js';
import { events, missing, sleep, startLoad } from './support/write-load.js';

/* Restarts a PostgreSQL cluster of this file's own; the machine's shared server is never touched. */

const restarts: ReadonlyArray<{ how: string; restart: (server: ThrowawayPostgres) => Promise<void> }> = [
  { how: 'a fast restart', restart: (server) => server.restart() },
  { how: 'an immediate restart (crash recovery)', restart: (server) => server.immediateRestart() },
  {
    how: 'kill -9 of every server process, then a start',
    restart: async (server) => {
      await server.kill9();
      await sleep(300);
      await server.start();
    },
  },
];

describeWithThrowawayPostgres('PostgreSQL server restart', () => {
  const cluster = throwawayPostgres();

  for (const { how, restart } of restarts) {
    it(`loses no acknowledged write across ${how} while writes flow, then writes and reads again`, async () => {
      const server = await cluster.get();
      const schema = postgresSchema('restart', server.url);
      const db = await schema.open({ tables: [events] });
      await db.migrate();
      const load = startLoad(db, 200, 10_000_000);
      await sleep(800);
      const beforeRestart = load.acknowledged.length;
      await restart(server);
      const atRestart = load.acknowledged.length;
      await sleep(2000);
      await load.stop();
      await db.flush();
      const lost = await missing(schema.name, load.acknowledged, server.url);
      console.log(`${how}: ${load.acknowledged.length} acknowledged, ${lost} lost, failures ${JSON.stringify(load.failures)}`);
      expect({ lost, unexpected: Object.keys(load.failures).filter((code) => code !== 'UNAVAILABLE' && code !== 'BUSY') }).toEqual({
        lost: 0,
        unexpected: [],
      });
      expect(beforeRestart).toBeGreaterThan(0);
      expect(load.acknowledged.length).toBeGreaterThan(atRestart);
      const last = load.acknowledged[load.acknowledged.length - 1] as number;
      expect(await db.table(events).get(last)).toMatchObject({ id: last });
    });
  }
});
