/**
 * The `http` scenario's GET row alone: `GET /api/v1/tables/media_files/records/{key}` on Sluice's
 * server beside a bare fastify route making the same better-sqlite3 select, autocannon in its
 * own process. Sides take turns in short legs, the order reversed every round (A B B A), so load
 * from other jobs on a shared machine falls on every side alike; each side's median counts.
 *
 *   npm run build && npx tsx bench/http-get.ts [--root DIR] [--base DIR] [--rounds N] [--seconds S] [--side bare,sluice] [--cache]
 *
 * --root loads Sluice from DIR/dist; --base adds a second Sluice loaded from another built
 * commit (e.g. `git archive` of it, built, in /tmp), served from the same file in the same
 * process, so two commits are compared leg by leg. --side sluice serves only Sluice, for
 * `node --cpu-prof --import tsx bench/http-get.ts --side sluice --rounds 1 --seconds 8`.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import Fastify from 'fastify';
import { scratchDir, settle } from './support/measure.js';
import { MEDIA_SHAPE, RAW_SELECT_SQL, sequentialPath } from './support/media-table.js';
import { openRaw, prefill } from './support/sqlite-files.js';

const run$ = promisify(execFile);
const LOAD = join(import.meta.dirname, 'support', 'http-load.mjs');
const ROWS = 10_000;

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: join(import.meta.dirname, '..') },
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    side: { type: 'string' },
    /** Gives media_files a cache policy: every GET after the first is an L1 hit (row and body kept). */
    cache: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

interface Leg {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server's CPU (this process, user + system) per request: steadier than req/s on a shared machine. */
  cpuUs: number;
}

async function cannon(url: string, duration: number): Promise<Omit<Leg, 'cpuUs'>> {
  const { stdout } = await run$(process.execPath, [LOAD, JSON.stringify({ url, seconds: duration, connections })]);
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

/** A Sluice server over `file`, loaded from `root`/dist. */
async function sluiceServer(root: string, file: string, key: string) {
  const lib = (await import(pathToFileURL(join(root, 'dist', 'index.js')).href)) as typeof import('../dist/index.js');
  const server = (await import(pathToFileURL(join(root, 'dist', 'server', 'index.js')).href)) as typeof import('../dist/server/index.js');
  const mediaFiles = lib.defineTable(
    'media_files',
    values.cache ? { ...MEDIA_SHAPE, cache: { ttlMs: 60_000, maxEntries: 1000 } } : MEDIA_SHAPE,
  );
  const db = await lib.open({ url: `sqlite:${file}`, tables: [mediaFiles], sqlite: { cacheKiB: 65_536 } });
  await db.migrate();
  const app = server.createServer(db, { token: 'bench-token-0123' });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/api/v1/tables/media_files/records/${key}`;
  return {
    url,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}

const scratch = scratchDir('http-get');
try {
  const file = scratch.file('http.db');
  {
    const lib = (await import(pathToFileURL(join(values.root, 'dist', 'index.js')).href)) as typeof import('../dist/index.js');
    const schemaDb = await lib.open({ url: `sqlite:${file}`, tables: [lib.defineTable('media_files', MEDIA_SHAPE)] });
    await schemaDb.migrate();
    await schemaDb.close();
  }
  prefill(file, ROWS, sequentialPath);
  const key = encodeURIComponent(sequentialPath(4321));

  const servers = new Map<string, { url: string; close: () => Promise<void> }>();
  const wanted = values.side?.split(',') ?? ['sluice', 'bare', ...(values.base ? ['base'] : [])];
  if (wanted.includes('sluice')) servers.set('sluice', await sluiceServer(values.root, file, key));
  if (wanted.includes('base')) servers.set('base', await sluiceServer(values.base!, file, key));
  if (wanted.includes('bare')) {
    const reader = openRaw(file);
    reader.pragma('query_only = ON');
    const select = reader.prepare(RAW_SELECT_SQL);
    const bare = Fastify();
    bare.get<{ Params: { key: string } }>('/raw/:key', async (req, reply) => {
      const row = select.get(req.params.key) as Record<string, unknown> | undefined;
      if (!row) return reply.code(404).send({ error: 'not found' });
      return row;
    });
    const url = `${await bare.listen({ host: '127.0.0.1', port: 0 })}/raw/${key}`;
    servers.set('bare', {
      url,
      close: async () => {
        await bare.close();
        reader.close();
      },
    });
  }

  const loadBefore = load();
  const warmup = Number(values.warmup);
  if (warmup > 0) for (const { url } of servers.values()) await cannon(url, warmup);
  const sides = [...servers.keys()];
  const legs = new Map<string, Leg[]>(sides.map((s) => [s, []]));
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      await settle(200);
      const cpu0 = process.cpuUsage();
      const result = await cannon(servers.get(side)!.url, seconds);
      const cpu = process.cpuUsage(cpu0);
      legs.get(side)!.push({ ...result, cpuUs: (cpu.user + cpu.system) / (result.rps * seconds) });
    }
  }
  for (const server of servers.values()) await server.close();

  const summary = Object.fromEntries(
    sides.map((side) => {
      const of = legs.get(side)!;
      return [
        side,
        {
          rps: Math.round(median(of.map((l) => l.rps))),
          cpuUsPerRequest: Number(median(of.map((l) => l.cpuUs)).toFixed(1)),
          legs: of.map((l) => Math.round(l.rps)).join(' '),
          non2xx: of.reduce((n, l) => n + l.non2xx + l.errors, 0),
        },
      ];
    }),
  );
  const ratios = Object.fromEntries(
    sides.filter((s) => s !== 'bare' && servers.has('bare')).map((s) => [s, Number((summary[s]!.rps / summary.bare!.rps).toFixed(3))]),
  );
  process.stdout.write(
    `${JSON.stringify({ cache: values.cache, loadBefore, loadAfter: load(), legSeconds: seconds, summary, ratioToBare: ratios })}\n`,
  );
} finally {
  scratch.remove();
}
