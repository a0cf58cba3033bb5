import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { sharedKv } from '../../support/cached-tables.js';
import { tempDir } from '../../support/databases.js';
import { postgresAvailable, postgresUrl, redisServerAvailable, withPostgres } from '../../support/services.js';
import { throwawayRedis } from '../../support/throwaway-redis.js';

// Two OS processes share one database and one Redis (this file's own) while the Redis is not
// yet started at open, killed, frozen for 5 s and restarted. Promise under test: no read returns
// a value older than one acknowledged more than staleBoundMs before the read began.
const staleBoundMs = 500;
const keys = 40;
const owners = 2;
const worker = new URL('./support/staleness-worker.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const wall = () => performance.timeOrigin + performance.now();
const dir = tempDir('sluice-l2-stale-');
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

interface Log {
  reads: number[];
  acks: number[];
  failures: number;
  stats: { l1: { hitRatio: number }; l2: { hits: number; misses: number; hitRatio: number } & Record<string, unknown> };
}

function start(config: Record<string, unknown>): { child: ChildProcess; ready: Promise<void>; done: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type?: string }) => m.type === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
  return { child, ready, done };
}

interface Phase {
  name: string;
  at: number;
}

/** Reads older than a version acknowledged (by either process) more than staleBoundMs before. */
function analyse(logs: Log[], phases: Phase[]) {
  const committed = new Map<number, { version: number; at: number }[]>();
  for (const log of logs) {
    for (let i = 0; i < log.acks.length; i += 3) {
      const list = committed.get(log.acks[i]!) ?? [];
      list.push({ version: log.acks[i + 1]!, at: log.acks[i + 2]! });
      committed.set(log.acks[i]!, list);
    }
  }
  for (const list of committed.values()) list.sort((a, b) => a.at - b.at);
  const phaseOf = (at: number) => {
    let name = phases[0]!.name;
    for (const p of phases) if (p.at <= at) name = p.name;
    return name;
  };
  const perPhase: Record<string, { reads: number; stale: number; worstMs: number }> = {};
  for (const p of phases) perPhase[p.name] = { reads: 0, stale: 0, worstMs: 0 };
  let reads = 0;
  let stale = 0;
  let worstMs = 0;
  for (const log of logs) {
    for (let i = 0; i < log.reads.length; i += 3) {
      const [key, version, started] = [log.reads[i]!, log.reads[i + 1]!, log.reads[i + 2]!];
      const bucket = perPhase[phaseOf(started)]!;
      reads++;
      bucket.reads++;
      // The first version newer than the one read: if it was acknowledged more than the bound
      // before the read began, the read broke the promise by that much.
      const newer = committed.get(key)?.find((c) => c.version > version);
      if (newer && newer.at <= started - staleBoundMs) {
        const lag = started - newer.at;
        stale++;
        bucket.stale++;
        worstMs = Math.max(worstMs, lag);
        bucket.worstMs = Math.max(bucket.worstMs, Math.round(lag));
      }
    }
  }
  return { reads, stale, worstMs: Math.round(worstMs), perPhase };
}

const servers = { sqlite: throwawayRedis(), postgres: throwawayRedis() };

async function scenario(dialect: 'sqlite' | 'postgres', location: { url: string; schema?: string }, dir: string) {
  const redis = await servers[dialect];
  const keyPrefix = `stale-${dialect}:`;
  const setup = await open({
    url: location.url,
    tables: [sharedKv],
    ...(location.schema ? { postgres: { schema: location.schema } } : {}),
  });
  await setup.migrate();
  for (let id = 0; id < keys; id++) await setup.table(sharedKv).insert({ id, version: 0, writer: 'setup' });
  await setup.close();

  const out = (owner: number) => join(dir, `${dialect}-${owner}.json`);
  const phases: Phase[] = [{ name: 'not started', at: wall() }];
  const workers = [0, 1].map((owner) =>
    start({ ...location, redisUrl: redis.url, keyPrefix, staleBoundMs, owner, owners, keys, out: out(owner) }),
  );
  await Promise.all(workers.map((w) => w.ready));
  const phase = (name: string) => phases.push({ name, at: wall() });
  await sleep(1500);
  await redis.start();
  phase('started');
  await sleep(2500);
  await redis.kill9();
  phase('killed');
  await sleep(1500);
  await redis.start();
  phase('back after kill');
  await sleep(2500);
  redis.pause();
  phase('SIGSTOP');
  await sleep(5000);
  redis.resume();
  phase('SIGCONT');
  await sleep(2500);
  await redis.restart();
  phase('restarted');
  await sleep(2500);
  for (const w of workers) w.child.send({ type: 'stop' });
  await Promise.all(workers.map((w) => w.done));
  await redis.kill9();

  const logs = [0, 1].map((owner) => JSON.parse(readFileSync(out(owner), 'utf8')) as Log);
  const result = analyse(logs, phases);
  const summary = {
    dialect,
    staleBoundMs,
    ...result,
    acks: logs.map((l) => l.acks.length / 3),
    failures: logs.map((l) => l.failures),
    l1HitRatio: logs.map((l) => l.stats.l1.hitRatio),
    l2: logs.map((l) => l.stats.l2),
  };
  console.log('l2 staleness', JSON.stringify(summary));
  expect(result.reads).toBeGreaterThan(5000);
  expect(summary.acks.every((n) => n > 300)).toBe(true);
  expect(summary.failures).toEqual([0, 0]);
  expect(result.stale).toBe(0);
}

describe.skipIf(!redisServerAvailable('L2 staleness'))('L2 never serves rows past staleBoundMs, whatever Redis does', () => {
  it('SQLite: two processes on one file', async () => {
    await scenario('sqlite', { url: `sqlite:${join(dir, 'shared.db')}` }, dir);
  }, 60_000);

  it('PostgreSQL: two instances, Redis the only invalidation bus', async (context) => {
    if (!(await postgresAvailable())) return context.skip();
    const schema = `l2_stale_${process.pid}_${Date.now().toString(36)}`;
    try {
      await scenario('postgres', { url: postgresUrl, schema }, dir);
    } finally {
      await withPostgres((client) => client.query(`drop schema if exists "${schema}" cascade`));
    }
  }, 60_000);
});
