/**
 * The `http` scenario's GET row alone: `GET /api/v1/tables/media_files/records/{key}` on Sluice's
 * server beside a bare fastify route making the same better-sqlite3 select, measured A B B A
 * (Sluice, bare, bare, Sluice) in one process, autocannon in its own.
 *
 *   npm run build && npx tsx bench/http-get.ts [--root DIR] [--seconds S] [--connections N] [--side both|sluice|bare]
 *
 * --root loads Sluice from DIR/dist (a worktree of another commit, built), so two commits can be
 * compared with the same script. --side sluice serves only Sluice, for `node --cpu-prof --import tsx`.
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
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    side: { type: 'string', default: 'both' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

async function cannon(url: string, duration: number): Promise<{ rps: number; p99: number; non2xx: number; errors: number }> {
  const { stdout } = await run$(process.execPath, [LOAD, JSON.stringify({ url, seconds: duration, connections })]);
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const lib = (await import(pathToFileURL(join(values.root, 'dist', 'index.js')).href)) as typeof import('../dist/index.js');
const server = (await import(
  pathToFileURL(join(values.root, 'dist', 'server', 'index.js')).href
)) as typeof import('../dist/server/index.js');
const mediaFiles = lib.defineTable('media_files', MEDIA_SHAPE);

const scratch = scratchDir('http-get');
try {
  const file = scratch.file('http.db');
  const schemaDb = await lib.open({ url: `sqlite:${file}`, tables: [mediaFiles] });
  await schemaDb.migrate();
  await schemaDb.close();
  prefill(file, ROWS, sequentialPath);
  const key = encodeURIComponent(sequentialPath(4321));

  const db = await lib.open({ url: `sqlite:${file}`, tables: [mediaFiles], sqlite: { cacheKiB: 65_536 } });
  await db.migrate();
  const app = server.createServer(db, { token: 'bench-token-0123' });
  const sluiceUrl = `${await app.listen({ host: '127.0.0.1', port: 0 })}/api/v1/tables/media_files/records/${key}`;

  const reader = openRaw(file);
  reader.pragma('query_only = ON');
  const select = reader.prepare(RAW_SELECT_SQL);
  const bare = Fastify();
  bare.get<{ Params: { key: string } }>('/raw/:key', async (req, reply) => {
    const row = select.get(req.params.key) as Record<string, unknown> | undefined;
    if (!row) return reply.code(404).send({ error: 'not found' });
    return row;
  });
  const bareUrl = `${await bare.listen({ host: '127.0.0.1', port: 0 })}/raw/${key}`;

  const warmup = Number(values.warmup);
  const sides = values.side === 'both' ? ['sluice', 'bare', 'bare', 'sluice'] : [values.side!];
  const urls: Record<string, string> = { sluice: sluiceUrl, bare: bareUrl };
  const load = loadavg().map((l) => l.toFixed(2));
  if (warmup > 0) for (const side of new Set(sides)) await cannon(urls[side]!, warmup);
  const runs: { side: string; rps: number; p99: number; non2xx: number; errors: number; cpuUs: number }[] = [];
  for (const side of sides) {
    await settle(300);
    // The server's CPU per request (this process, user + system) is steadier than req/s on a shared machine.
    const cpu0 = process.cpuUsage();
    const result = await cannon(urls[side]!, seconds);
    const cpu = process.cpuUsage(cpu0);
    runs.push({ side, ...result, cpuUs: (cpu.user + cpu.system) / (result.rps * seconds) });
  }
  await app.close();
  await bare.close();
  await db.close();
  reader.close();

  const mean = (side: string, of: (r: (typeof runs)[number]) => number = (r) => r.rps) => {
    const mine = runs.filter((r) => r.side === side);
    return mine.length ? mine.reduce((s, r) => s + of(r), 0) / mine.length : Number.NaN;
  };
  process.stdout.write(
    `${JSON.stringify({
      root: values.root,
      loadBefore: load.join(' / '),
      loadAfter: loadavg()
        .map((l) => l.toFixed(2))
        .join(' / '),
      runs: runs.map(
        (r) =>
          `${r.side} ${Math.round(r.rps)} req/s p99 ${r.p99} ms cpu ${r.cpuUs.toFixed(1)} µs/req non2xx ${r.non2xx} errors ${r.errors}`,
      ),
      sluice: Math.round(mean('sluice')),
      bare: Math.round(mean('bare')),
      ratio: Number((mean('sluice') / mean('bare')).toFixed(3)),
      cpuUsPerRequest: { sluice: Number(mean('sluice', (r) => r.cpuUs).toFixed(1)), bare: Number(mean('bare', (r) => r.cpuUs).toFixed(1)) },
    })}\n`,
  );
} finally {
  scratch.remove();
}
