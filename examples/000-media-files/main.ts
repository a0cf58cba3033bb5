/**
 * Seed 000: three programs share one SQLite file (a C++ dock ingester, a Python sync scheduler, a
 * smoke checker), plus a foreign Python writer. Each role below runs as its own OS process on
 * the same file; the parent checks every acknowledged write afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { type Database, open, SluiceError } from 'sluice';
import { type ExampleOptions, type ExampleReport, exampleDir, exited, forkRole, message, ms, roleOf, sleep } from '../support.js';
import { mediaFiles } from './schema.js';

const self = fileURLToPath(import.meta.url);

interface RoleReport {
  type: 'report';
  role: string;
  writes: number;
  surfacedBusy: number;
  failures: Record<string, number>;
  ackMeanMs: number;
  ackP99Ms: number;
  /** Compare-and-set misses: writes that lost a race and had to be decided again. */
  conflicts: number;
  /** Writes whose batch met the lock held by another process and waited (Sluice retries those itself). */
  lockWaits: number;
  extra: Record<string, number>;
}

const OPEN = (url: string) => ({
  url,
  tables: [mediaFiles],
  // Seed 000's acceptance list asks for a conflict alert; this one watches compare-and-set misses and lock retries.
  alerts: [{ name: 'conflicts', metric: 'sluice_conflicts_total', labels: { reason: 'cas' }, rate: { perMinuteAbove: 60 }, forMs: 2000 }],
  alertIntervalMs: 1000,
});

/** The dock ingester (the seed's C++ dock_info_manager): a new media file every few milliseconds. */
async function ingester(db: Database, until: number, log: string): Promise<Record<string, number>> {
  const files = db.table(mediaFiles);
  let n = 0;
  // The seed's dock checked every 5 s; this one lands 20 files every 100 ms, 200 a second per process.
  while (Date.now() < until) {
    const batch = Array.from({ length: 20 }, () => `/dock/${process.pid}/${n++}.mp4`);
    await Promise.all(batch.map((path) => files.insert({ path, size: 1000 + (n % 97), source: 'dock' }, { priority: 'high' })));
    appendFileSync(log, batch.map((p) => `${p}\n`).join(''));
    await sleep(100);
  }
  return { inserted: n };
}

/** The sync scheduler: a worker moving files to the NAS, retrying a failed copy. */
async function scheduler(db: Database, until: number): Promise<Record<string, number>> {
  const worker = db.table(mediaFiles).work({
    from: 'pending',
    to: 'downloading',
    done: 'completed',
    failed: 'failed',
    concurrency: 8,
    batch: 32,
    leaseMs: 30_000,
    owner: `scheduler-${process.pid}`,
    retry: { attempts: 3, backoffMs: 50 },
    // The smoke checker's rows are its own business.
    where: { source: { $in: ['dock', 'python'] } },
    handler: async (file) => {
      await sleep(1 + (file.size % 4)); // the copy to the NAS
      if (file.size % 50 === 0) throw new Error('NAS unreachable');
      return { nasPath: `/nas${file.path}` };
    },
  });
  while (Date.now() < until) await sleep(50);
  await worker.stop();
  const s = worker.stats();
  return { completed: s.done, failed: s.failed, retried: s.retried, lostLeases: s.lost };
}

/** The smoke checker: the seed's diagnostic round trip, at low priority so it never delays the others. */
async function smoke(db: Database, until: number): Promise<Record<string, number>> {
  const files = db.table(mediaFiles);
  let rounds = 0;
  while (Date.now() < until) {
    const path = `/smoke/${process.pid}/${rounds++}`;
    await files.insert({ path, size: 1, source: 'smoke' }, { priority: 'low' });
    if ((await files.get(path))?.status !== 'pending') throw new Error(`smoke: ${path} did not read back`);
    await files.transition(path, 'downloading', { priority: 'low' });
    await files.delete(path, { priority: 'low' });
    await sleep(100);
  }
  return { rounds };
}

const ROLES = { ingester, scheduler, smoke } as const;

/** What a role reports every `sampleMs` during a soak: its memory, handles and latency now. */
export interface RoleSample {
  type: 'sample';
  role: string;
  pid: number;
  rssBytes: number;
  heapBytes: number;
  handles: number;
  ackP99Ms: number;
  writes: number;
}

async function runRole(role: keyof typeof ROLES, args: Record<string, unknown>): Promise<void> {
  const db = await open(OPEN(args.url as string));
  const sampleMs = args.sampleMs as number | undefined;
  const sampler =
    sampleMs === undefined
      ? undefined
      : setInterval(() => {
          // A soak forks its roles with --expose-gc: heapUsed read right after a full collection is
          // what the process keeps alive, not where the collector happened to be (garbage not yet
          // collected made a flat heap look like 5 MiB/h of growth).
          (globalThis as { gc?: () => void }).gc?.();
          const memory = process.memoryUsage();
          const stats = db.stats();
          const sample: RoleSample = {
            type: 'sample',
            role,
            pid: process.pid,
            rssBytes: memory.rss,
            heapBytes: memory.heapUsed,
            handles: process.getActiveResourcesInfo().length,
            ackP99Ms: stats.ackMs.p99,
            writes: stats.ops.ok,
          };
          process.send?.(sample);
        }, sampleMs);
  process.send?.({ type: 'ready' });
  await message<{ type: 'go' }>(process as never, 'go').catch(() => {});
  const seconds = args.seconds as number;
  const snapshotDir = args.snapshotDir as string | undefined;
  const snapshot = (phase: string) => snapshotDir && writeHeapSnapshot(join(snapshotDir, `${role}-${process.pid}-${phase}.heapsnapshot`));
  const warmSnapshot = snapshotDir ? setTimeout(() => snapshot('warm'), seconds * 200) : undefined;
  const extra = await ROLES[role](db, Date.now() + seconds * 1000, args.log as string);
  clearTimeout(warmSnapshot);
  snapshot('end');
  if (sampler) clearInterval(sampler);
  const stats = db.stats();
  const table = stats.tables.media_files;
  const writes = Object.values(table?.writes ?? {}).reduce((sum, w) => sum + w.count, 0);
  const meanMs = writes === 0 ? 0 : Object.values(table?.writes ?? {}).reduce((sum, w) => sum + w.meanMs * w.count, 0) / writes;
  const report: RoleReport = {
    type: 'report',
    role,
    writes,
    surfacedBusy: stats.busy.surfaced,
    failures: stats.ops.failuresByCode,
    ackMeanMs: meanMs,
    ackP99Ms: stats.ackMs.p99,
    conflicts: table?.conflicts ?? 0,
    lockWaits: table?.lockRetries ?? 0,
    extra: { ...extra, alertsFired: db.alerts.firing().length },
  };
  await db.close();
  process.send?.(report);
}

/** A foreign writer in Python (through the SQLite ≥ 3.51.3 `sluice foreign-sqlite` builds): plain SQL, legal moves only. */
const PYTHON = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
until, n, done, locked = time.time() + float(sys.argv[2]), 0, 0, 0
while time.time() < until:
    path = f"/python/{n}"
    try:
        db.execute("insert into media_files (path, size, source) values (?, ?, 'python')", (path, 7))
        n += 1
        db.execute("update media_files set status = 'downloading' where path = ? and status = 'pending'", (path,))
        done += db.execute("update media_files set status = 'completed', nas_path = ? where path = ? and status = 'downloading'", ("/nas" + path, path)).rowcount
    except sqlite3.OperationalError as error:
        # A foreign writer's own busy timeout ran out (10 s): counted, as the seed's script would log it, and it goes on.
        if "locked" not in str(error): raise
        locked += 1
    time.sleep(0.02)
print(f"{n} {done} {locked}")
`;

function foreignPython(dir: string): { python: string; env: NodeJS.ProcessEnv } {
  const cli = join(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));
  const out = execFileSync(process.execPath, [cli, 'foreign-sqlite', '--json'], { cwd: dir, encoding: 'utf8' });
  const foreign = JSON.parse(out) as { python?: string; libraryDir?: string };
  const env = { ...process.env };
  if (foreign.libraryDir) env.LD_LIBRARY_PATH = foreign.libraryDir + (env.LD_LIBRARY_PATH ? `:${env.LD_LIBRARY_PATH}` : '');
  return { python: foreign.python ?? 'python3', env };
}

export interface SoakOptions {
  /** Every role reports a RoleSample this often. */
  readonly sampleMs: number;
  readonly onSample: (sample: RoleSample) => void;
  /**
   * Each role writes a heap snapshot here after the warm-up (a fifth of the run) and again at the
   * end, for a diff when a heap slope needs explaining (Chrome DevTools, Memory, Comparison).
   */
  readonly snapshotDir?: string;
}

export async function run(options: ExampleOptions & { soak?: SoakOptions }): Promise<ExampleReport> {
  const dir = exampleDir(options, '000');
  const url = `sqlite:${join(dir, 'media_status.db')}`;
  const setup = await open(OPEN(url));
  await setup.migrate();
  await setup.close();
  const log = join(dir, 'ingested.log');
  writeFileSync(log, '');
  const args = {
    url,
    seconds: options.seconds,
    log,
    ...(options.soak ? { sampleMs: options.soak.sampleMs, snapshotDir: options.soak.snapshotDir } : {}),
  };
  const children = (['ingester', 'ingester', 'scheduler', 'scheduler', 'smoke'] as const).map((role) =>
    forkRole(self, role, args, options.soak ? ['--expose-gc'] : []),
  );
  if (options.soak) {
    const onSample = options.soak.onSample;
    for (const child of children) child.on('message', (m: { type?: string }) => m.type === 'sample' && onSample(m as RoleSample));
  }
  await Promise.all(children.map((child) => message(child, 'ready')));
  const { python, env } = foreignPython(dir);
  const reports = children.map((child) => message<RoleReport>(child, 'report'));
  for (const child of children) child.send({ type: 'go' });
  const py = spawn(python, ['-c', PYTHON, url.slice('sqlite:'.length), String(options.seconds)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let pyOut = '';
  py.stdout.on('data', (chunk) => (pyOut += chunk));
  const roles = await Promise.all(reports);
  await Promise.all([...children.map(exited), exited(py as never)]);
  const [pyInserted = 0, pyCompleted = 0, pyLockTimeouts = 0] = pyOut.trim().split(' ').map(Number);

  // Afterwards: every acknowledged insert is there (checked a chunk at a time: a soak acknowledges millions), the file intact.
  const db = await open({ url, tables: [mediaFiles] });
  const files = db.table(mediaFiles);
  const acked = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  let lost = 0;
  for (let i = 0; i < acked.length; i += 5000) {
    const chunk = acked.slice(i, i + 5000);
    lost += chunk.length - (await files.count({ path: { $in: chunk } }));
  }
  lost += Math.max(0, pyInserted - (await files.count({ source: 'python' })));
  const completedRows = await files.count({ source: { $in: ['dock', 'python'] }, status: 'completed' });
  const completedByScheduler = roles.filter((r) => r.role === 'scheduler').reduce((sum, r) => sum + (r.extra.completed ?? 0), 0);
  // Every completion a scheduler was told of is in the file (a lost update would be missing).
  const lostUpdates = Math.max(0, completedByScheduler + pyCompleted - completedRows);
  const integrity = (await db.diagnose()).integrity;
  await db.close();

  const writes = roles.reduce((sum, r) => sum + r.writes, 0);
  const meanMs = roles.reduce((sum, r) => sum + r.ackMeanMs * r.writes, 0) / Math.max(1, writes);
  const conflicts = roles.reduce((sum, r) => sum + r.conflicts, 0);
  const lockWaits = roles.reduce((sum, r) => sum + r.lockWaits, 0);
  const figures = {
    writes,
    surfacedBusy: roles.reduce((sum, r) => sum + r.surfacedBusy, 0) + roles.reduce((sum, r) => sum + (r.failures.BUSY ?? 0), 0),
    meanLatencyMs: ms(meanMs),
    p99LatencyMs: ms(Math.max(...roles.map((r) => r.ackP99Ms))),
    // A conflict as the seed counted it: an operation that failed against another writer (its
    // SQLITE_BUSY, or a status update that lost a race). Lock waits Sluice absorbed are shown apart.
    conflictRate: Math.round(((conflicts + roles.reduce((sum, r) => sum + r.surfacedBusy, 0)) / Math.max(1, writes)) * 10_000) / 10_000,
    lockWaitShare: Math.round((lockWaits / Math.max(1, writes)) * 10_000) / 10_000,
    lostWrites: lost,
    lostUpdates,
    integrity: Array.isArray(integrity) ? integrity.join(',') : String(integrity),
    completed: completedRows,
    pythonWrites: pyInserted,
    pythonLockTimeouts: pyLockTimeouts,
    conflictAlertsFired: roles.reduce((sum, r) => sum + (r.extra.alertsFired ?? 0), 0),
  };
  const met =
    figures.surfacedBusy === 0 &&
    figures.meanLatencyMs < 100 &&
    figures.conflictRate < 0.01 &&
    figures.lostWrites === 0 &&
    figures.lostUpdates === 0 &&
    figures.integrity === 'ok';
  return {
    example: '000-media-files',
    seconds: options.seconds,
    figures,
    promised: { surfacedBusy: '0', meanLatencyMs: '< 100', conflictRate: '< 1 %', lostWrites: '0', lostUpdates: '0', integrity: 'ok' },
    met,
  };
}

const started = roleOf();
if (started) {
  runRole(started.role as keyof typeof ROLES, started.args).catch((error) => {
    console.error(SluiceError.is(error) ? `${error.code}: ${error.message}` : error);
    process.exit(1);
  });
}
