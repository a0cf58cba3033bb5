import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { sharedKv } from '../../support/cached-tables.js';
import { tempDir } from '../../support/databases.js';
import { redisPrefix } from '../../support/redis-prefix.js';
import { needsSharedRedis } from '../../support/redis-suite.js';
import { redisUrl } from '../../support/services.js';

const dir = tempDir('sluice-cache-coherency-');
const keyPrefix = redisPrefix('coherency');
needsSharedRedis();
function quantile(values: number[], q: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const here = new URL('./support/', import.meta.url).pathname;

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited with ${code}`))));
  });
}

interface Log {
  reads: number[];
  acks: number[];
  failures: number;
  stats?: { l1: { hitRatio: number }; l2: { hits: number; resyncs: number; fallbacks: number }; foreignFlushes: number };
}

it('keeps 2 Node processes (L1 + L2) and a Python writer within the stale bound for 20 s, with the channel killed mid-run', async () => {
  const file = join(dir, 'shared.db');
  const keys = 60;
  const owners = 3; // key % 3: 0 → node A, 1 → node B, 2 → Python
  const seconds = 20;
  const staleBoundMs = 1000; // the default
  const setup = await open({ url: `sqlite:${file}`, tables: [sharedKv] });
  await setup.migrate();
  for (let id = 0; id < keys; id++) await setup.table(sharedKv).insert({ id, version: 0, writer: 'setup' });
  await setup.close();

  const out = (name: string) => join(dir, `${name}.json`);
  const node = (owner: number) =>
    run(process.execPath, [
      '--import',
      'tsx',
      join(here, 'coherency-worker.ts'),
      JSON.stringify({ file, redisUrl, keyPrefix, owner, owners, keys, seconds, out: out(`node${owner}`) }),
    ]);
  const killer = (async () => {
    await new Promise((resolve) => setTimeout(resolve, 9000));
    const admin = new Redis(redisUrl);
    try {
      const list = (await admin.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((line) => line.includes(`name=${keyPrefix}sub `))
        .map((line) => /id=(\d+)/.exec(line)?.[1] as string);
      for (const id of ids) await admin.client('KILL', 'ID', id);
      return ids.length;
    } finally {
      admin.disconnect();
    }
  })();
  const [, , , killed] = await Promise.all([
    node(0),
    node(1),
    run('python3', [join(here, 'coherency-writer.py'), file, '2', String(owners), String(keys), String(seconds + 3), out('python')]),
    killer,
  ]);
  expect(killed).toBe(2);

  const logs = [0, 1].map((o) => JSON.parse(readFileSync(out(`node${o}`), 'utf8')) as Log);
  const python = JSON.parse(readFileSync(out('python'), 'utf8')) as Log;
  // Every acknowledged version per key, in acknowledgement order (one owner per key: versions grow).
  const committed = new Map<number, { version: number; at: number }[]>();
  for (const log of [...logs, python]) {
    for (let i = 0; i < log.acks.length; i += 3) {
      const key = log.acks[i]!;
      const list = committed.get(key) ?? [];
      list.push({ version: log.acks[i + 1]!, at: log.acks[i + 2]! });
      committed.set(key, list);
    }
  }
  for (const list of committed.values()) list.sort((a, b) => a.at - b.at);
  const floor = (key: number, before: number): number => {
    let best = 0;
    for (const c of committed.get(key) ?? []) if (c.at <= before) best = Math.max(best, c.version);
    return best;
  };
  // How long after its commit a version was still not seen: the measured stale window.
  const staleFor = (key: number, seen: number, started: number): number => {
    const next = committed.get(key)?.find((c) => c.version === seen + 1);
    return next && next.at < started ? started - next.at : 0;
  };
  const staleness: number[] = [];
  let reads = 0;
  let ownViolations = 0;
  let boundViolations = 0;
  for (const [owner, log] of logs.entries()) {
    const ownAcks = new Map<number, { version: number; at: number }[]>();
    for (let i = 0; i < log.acks.length; i += 3) {
      const list = ownAcks.get(log.acks[i]!) ?? [];
      list.push({ version: log.acks[i + 1]!, at: log.acks[i + 2]! });
      ownAcks.set(log.acks[i]!, list);
    }
    for (let i = 0; i < log.reads.length; i += 3) {
      const [key, version, started] = [log.reads[i]!, log.reads[i + 1]!, log.reads[i + 2]!];
      reads++;
      if (key % owners === owner) {
        let acked = 0;
        for (const a of ownAcks.get(key) ?? []) if (a.at <= started) acked = Math.max(acked, a.version);
        if (version < acked) ownViolations++;
      }
      if (version < floor(key, started - staleBoundMs)) boundViolations++;
      const lag = staleFor(key, version, started);
      if (lag > 0) staleness.push(lag);
    }
  }
  const summary = {
    reads,
    acks: { nodeA: logs[0]!.acks.length / 3, nodeB: logs[1]!.acks.length / 3, python: python.acks.length / 3 },
    failures: logs.map((l) => l.failures).concat(python.failures),
    ownViolations,
    boundViolations,
    staleReads: staleness.length,
    staleWindowMs: {
      p50: Math.round(quantile(staleness, 0.5)),
      p99: Math.round(quantile(staleness, 0.99)),
      max: Math.round(Math.max(0, ...staleness)),
    },
    hitRatio: logs.map((l) => l.stats?.l1.hitRatio),
    l2Hits: logs.map((l) => l.stats?.l2.hits),
    resyncs: logs.map((l) => l.stats?.l2.resyncs),
    foreignFlushes: logs.map((l) => l.stats?.foreignFlushes),
  };
  console.log('coherency', JSON.stringify(summary));
  expect(reads).toBeGreaterThan(10_000);
  expect(summary.acks.python).toBeGreaterThan(500);
  expect(summary.acks.nodeA).toBeGreaterThan(500);
  expect(summary.failures).toEqual([0, 0, 0]);
  expect(ownViolations).toBe(0);
  expect(boundViolations).toBe(0);
  for (const log of logs) expect(log.stats!.l2.resyncs).toBeGreaterThanOrEqual(1);
}, 90_000);
