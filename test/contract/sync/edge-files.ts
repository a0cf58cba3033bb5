import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { withPostgres } from '../../support/services.js';

/**
 * Copies a SQLite file as an operator would (a cloned VM, a backup, a moved disk): the main file
 * and, when present, its WAL and shared-memory files, so a file a killed process left behind is
 * copied in the state that process left it.
 */
export function copyEdgeFile(from: string, to: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    rmSync(`${to}${suffix}`, { force: true });
    if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, `${to}${suffix}`);
  }
}

/** How many of `ids` the target table lacks. */
export async function missingOnTarget(schema: string, table: string, ids: readonly number[]): Promise<number> {
  return withPostgres(async (c) => {
    const { rows } = await c.query(
      `select count(*)::int as n from unnest($1::bigint[]) as w(id) where not exists (select 1 from "${schema}"."${table}" t where t.id = w.id)`,
      [ids],
    );
    return rows[0].n as number;
  });
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/**
 * A TCP relay in front of the shared PostgreSQL that can be frozen: while frozen it keeps every
 * socket open and forwards nothing, as a dead link or a hung server looks from the client.
 */
export async function freezableProxy(): Promise<{ url: string; freeze(): void; thaw(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  const relay = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  };
  const server: Server = createServer((client) => {
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
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const send of held.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
