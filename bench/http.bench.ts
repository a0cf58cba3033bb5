import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { mediaFiles as cliMediaFiles } from '../dist/cli/media-files-table.js';
import { open } from '../dist/index.js';
import { createServer } from '../dist/server/index.js';
import { ratio, scratchDir, settle } from './support/measure.js';
import { mediaFiles, mediaRow, RAW_INSERT_SQL, RAW_SELECT_SQL, sequentialPath } from './support/media-table.js';
import { type Budget, comparedAtLeast, goalAtMost, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, openRaw, openSluice, prefill } from './support/sqlite-files.js';

const run$ = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const LOAD = join(ROOT, 'bench', 'support', 'http-load.mjs');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const ROWS = 10_000;
const TOKEN = 'bench-token-0123';

interface Cannon {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** autocannon in its own process (bench/support/http-load.mjs), so it does not share the server's event loop. */
async function cannon(
  url: string,
  seconds: number,
  connections: number,
  post?: { body: string; headers: Record<string, string> },
): Promise<Cannon> {
  const options = { url, seconds, connections, ...(post ? { method: 'POST', body: post.body, headers: post.headers } : {}) };
  const { stdout } = await run$(process.execPath, [LOAD, JSON.stringify(options)], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Cannon;
}

/** utime + stime of a process in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('http');
  const seconds = Math.max(2, budget.measureSeconds);
  const notes: string[] = [];
  try {
    const file = scratch.file('http.db');
    await createSchema(file);
    prefill(file, ROWS, sequentialPath);
    const db = await openSluice(file);
    const app = createServer(db, { token: TOKEN });
    const sluiceBase = await app.listen({ host: '127.0.0.1', port: 0 });

    // The same calls a hand-written fastify service would make: a prepared select, an autocommit insert.
    const reader = openRaw(scratch.file('http.db'));
    reader.pragma('query_only = ON');
    const select = reader.prepare(RAW_SELECT_SQL);
    const writer = openRaw(scratch.file('raw-writes.db'));
    writer.exec(
      'create table media_files (path text primary key, file_name text, dock_sn text, size integer, file_hash text, download_status text, transfer_status text, retries integer, meta text, created_at integer, updated_at integer)',
    );
    const insert = writer.prepare(RAW_INSERT_SQL);
    const bare = Fastify();
    bare.get<{ Params: { key: string } }>('/raw/:key', async (req, reply) => {
      const row = select.get(req.params.key) as Record<string, unknown> | undefined;
      if (!row) return reply.code(404).send({ error: 'not found' });
      return row;
    });
    bare.post<{ Body: Record<string, unknown> }>('/raw', async (req, reply) => {
      const b = req.body;
      insert.run([
        b.path,
        b.fileName,
        b.dockSn,
        b.size,
        b.fileHash,
        b.downloadStatus,
        b.transferStatus,
        b.retries,
        JSON.stringify(b.meta),
        Date.parse(b.createdAt as string),
        Date.parse(b.updatedAt as string),
      ]);
      return reply.code(201).send(b);
    });
    const bareBase = await bare.listen({ host: '127.0.0.1', port: 0 });

    const key = encodeURIComponent(sequentialPath(4321));
    await cannon(`${sluiceBase}/api/v1/tables/media_files/records/${key}`, budget.warmupSeconds || 1, 16);
    const getSluice = await cannon(`${sluiceBase}/api/v1/tables/media_files/records/${key}`, seconds, 16);
    const getRaw = await cannon(`${bareBase}/raw/${key}`, seconds, 16);
    await settle();

    const smallRow = (prefix: string) => {
      const row = mediaRow(`${prefix}{n}`, 1);
      return JSON.stringify({ ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() });
    };
    const json = { 'content-type': 'application/json' };
    const postSluice = await cannon(`${sluiceBase}/api/v1/tables/media_files/records`, seconds, 16, {
      body: smallRow('/p/'),
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
    });
    const postRaw = await cannon(`${bareBase}/raw`, seconds, 16, { body: smallRow('/r/'), headers: json });
    await settle();

    const before = db.stats();
    const post64 = await cannon(`${sluiceBase}/api/v1/tables/media_files/records`, seconds, 64, {
      body: smallRow('/c/'),
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
    });
    const after = db.stats();
    const batchMean = (after.ops.ok - before.ops.ok) / Math.max(1, after.batches.count - before.batches.count);
    await app.close();
    await bare.close();
    reader.close();
    writer.close();

    // The library's own figure in the same run: 64 in-process writers awaiting one insert each.
    const files = db.table(mediaFiles);
    let written = 0;
    const ends = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = 0; performance.now() < ends; i++) {
          await files.insert(mediaRow(`/lib/${w}/${i}`, i));
          written++;
        }
      }),
    );
    const libraryRows = written / seconds;
    await db.close();

    const weight = await pageWeight();
    const cpu = await dashboardCpu(scratch.file('dash.db'), seconds * 2);
    notes.push(
      `autocannon runs in its own process; server and bare fastify share this process, one at a time. GET reads one key of a ${ROWS.toLocaleString()}-row table (no cache policy, so every request reads SQLite).`,
      `POST: Sluice inserts one media_files row per request through the write gate; the bare route runs one autocommit better-sqlite3 insert per request. Non-2xx: Sluice GET ${getSluice.non2xx}, POST ${postSluice.non2xx}, 64-client POST ${post64.non2xx}.`,
      `64 clients over HTTP committed a mean of ${batchMean.toFixed(1)} rows per transaction (group commit).`,
      `Dashboard CPU: the server process (sluice serve, ${DASH_ROWS.toLocaleString()} media_files rows) measured from /proc over ${seconds * 2} s: idle ${(cpu.idle * 100).toFixed(2)} % of a core, with 10 event streams open ${(cpu.ten * 100).toFixed(2)} %.`,
    );
    return {
      id: 'http',
      title: 'HTTP API (fastify) beside a bare fastify route making the same better-sqlite3 call',
      comparisons: [
        comparedAtLeast('GET /records/{key}, 16 connections', 'req/s', getSluice.rps, getRaw.rps, 0.7, '≥ 0.7× bare'),
        { measure: 'GET /records/{key} p99', unit: 'ms', sluice: getSluice.p99, raw: getRaw.p99, ratio: ratio(getSluice.p99, getRaw.p99) },
        comparedAtLeast('small POST (insert one row), 16 connections', 'req/s', postSluice.rps, postRaw.rps, 0.7, '≥ 0.7× bare'),
        { measure: 'small POST p99', unit: 'ms', sluice: postSluice.p99, raw: postRaw.p99, ratio: ratio(postSluice.p99, postRaw.p99) },
        {
          measure: 'inserts over HTTP, 64 clients, vs the library with 64 writers',
          unit: 'rows/s',
          sluice: post64.rps,
          raw: libraryRows,
          ratio: ratio(post64.rps, libraryRows),
        },
        { measure: 'dashboard page weight, all assets', unit: 'kB', sluice: weight / 1000, goal: goalAtMost(weight, 200_000, '< 200 kB') },
        {
          measure: 'server CPU with 10 dashboards open',
          unit: '% of a core',
          sluice: cpu.ten * 100,
          raw: cpu.idle * 100,
          goal: goalAtMost(cpu.ten, 0.05, '< 5 %'),
        },
      ],
      notes,
    };
  } finally {
    scratch.remove();
  }
}

const DASH_ROWS = 100_000;

async function pageWeight(): Promise<number> {
  const db = await open({ url: 'sqlite::memory:', tables: [mediaFiles] });
  const app = createServer(db);
  try {
    const html = (await app.inject({ url: '/' })).body;
    let bytes = Buffer.byteLength(html);
    for (const [, asset] of html.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g))
      bytes += (await app.inject({ url: asset! })).rawPayload.byteLength;
    return bytes;
  } finally {
    await app.close();
    await db.close();
  }
}

/** CPU of a `sluice serve` process, idle and then with 10 event streams (what 10 open dashboards hold). */
async function dashboardCpu(file: string, seconds: number): Promise<{ idle: number; ten: number }> {
  const db = await open({ url: `sqlite:${file}`, tables: [cliMediaFiles] });
  await db.migrate();
  const files = db.table(cliMediaFiles);
  const states = ['pending', 'downloading', 'completed', 'failed'] as const;
  for (let i = 0; i < DASH_ROWS; i += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, j) =>
        files.insert({ path: `/d/${i + j}`, size: j, downloadStatus: 'COMPLETED', transferStatus: states[(i + j) % 3]! as 'pending' }),
      ),
    );
  }
  await db.close();
  writeFileSync(`${file}.token`, TOKEN);
  // The demo table as an application schema: --demo would also start the demo's background load.
  const schema = `${file}.schema.mjs`;
  const table = JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'cli', 'media-files-table.js')).href);
  writeFileSync(
    schema,
    `import { mediaFiles, MEDIA_FILES_SCHEMA_VERSION } from ${table};\nexport const tables = [mediaFiles];\nexport const schemaVersion = MEDIA_FILES_SCHEMA_VERSION;\n`,
  );
  const serveArgs = ['serve', '--db', `sqlite:${file}`, '--schema', schema, '--port', '0', '--token-file', `${file}.token`];
  const child = spawn(process.execPath, [CLI, ...serveArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stderr.on('data', (c: Buffer) => {
        text += c.toString();
        const m = /dashboard at (http:\/\/\S+?)\//.exec(text);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`serve exited: ${text}`)));
    });
    await settle(1000);
    const measure = async () => {
      const c0 = cpuSeconds(child.pid!);
      const t0 = performance.now();
      await settle(seconds * 1000);
      return (cpuSeconds(child.pid!) - c0) / ((performance.now() - t0) / 1000);
    };
    const idle = await measure();
    const streams = Array.from({ length: 10 }, () => {
      const req = request(`${base}/api/v1/events`, (res) => res.resume());
      req.end();
      return req;
    });
    await settle(1500);
    const ten = await measure();
    for (const s of streams) s.destroy();
    return { idle, ten };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}
