import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LatencySummary, SluiceError, type Table } from '../../index.js';
import { parseUrl } from '../../internal.js';
import type { Progress } from '../cli-progress-bar.js';
import { type ForeignSqlite, prepareForeignSqlite } from '../foreign/foreign-sqlite.js';
import { type MediaFilesTable, mediaFiles } from '../media-files-table.js';
import { openDatabase } from '../open-database.js';
import { BUILT_IN_SCHEMA } from '../schema-loader.js';
import { readAckLog } from './ack-log.js';
import { type AckVerification, verifyAcks } from './ack-verifier.js';
import { LatencyHistogram } from './latency-histogram.js';
import { forkNodeWriter, type StressChild, spawnForeignWriter } from './stress-children.js';
import type { NodeRole, ProcessSummary } from './stress-protocol.js';

export interface StressOptions {
  readonly url: string;
  /** Node writer processes (at least 2): one ingester, schedulers, and from 3 on one smoke checker. */
  readonly processes: number;
  readonly seconds: number;
  /** Add a Python sqlite3 writer (SQLite URLs only). */
  readonly foreign: boolean;
  /** Leave the run's rows in the database instead of deleting them after the checks. */
  readonly keepRows: boolean;
  readonly note: (text: string) => void;
  readonly progress: (label: string, total: number, unit: string) => Progress;
}

/** A process's summary as the report shows it: throughput and latency figures instead of raw counts. */
export type ProcessFigures = Omit<ProcessSummary, 'elapsedMs' | 'latency'> & { opsPerSecond: number; latencyMs: LatencySummary };

export interface StressReport {
  ok: boolean;
  db: string;
  runId: string;
  seconds: number;
  processes: ProcessFigures[];
  /** Processes that ended without a summary (crashed, or killed after the grace period). */
  missingSummaries: string[];
  foreign: { sqliteVersion: string; bundledVersion: string; library: string; warning?: string } | null;
  totals: {
    acked: number;
    opsPerSecond: number;
    busyRetries: number;
    busySurfaced: number;
    errors: number;
    readOwnWriteMisses: number;
    /** Items claimed (pending → downloading under a lease). */
    claims: number;
    /** Settles tried after a lease lapsed on purpose, and how many the token check refused (expected). */
    lapsedSettlesTried: number;
    lapsedSettlesRefused: number;
    /** Illegal changes the foreign writer tried with plain SQL: refused by the triggers (expected) or accepted (a failure). */
    illegalTried: number;
    illegalRefused: number;
    illegalAccepted: number;
  };
  latencyMs: LatencySummary;
  /** Slowest / fastest ops/s: over all writers, and among writers of the same role. */
  fairness: { overall: number; byRole: Record<string, number> };
  checks: AckVerification & { integrity: string[] };
  /** Where the acknowledgement logs (and the run's rows) were kept: only when a check failed. */
  logDir: string | null;
}

/** Extra time after the end for writers to finish the writes in flight and report. */
const GRACE_MS = 60_000;

export function assignRoles(processes: number): NodeRole[] {
  return Array.from({ length: processes }, (_, i): NodeRole => {
    if (i === 0) return 'ingester';
    if (processes >= 3 && i === processes - 1) return 'smoke';
    return 'scheduler';
  });
}

/**
 * The shared-file scenario on one database: writer processes run their roles for `seconds`, each
 * logging what it was acknowledged; afterwards the logs are checked against the rows.
 */
export async function runStress(options: StressOptions): Promise<StressReport> {
  const location = checkedLocation(options);
  const runId = `stress-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const prefix = `${runId}/`;
  const logDir = mkdtempSync(join(tmpdir(), 'sluice-stress-'));

  // The caller has made sure this is the demo's database: it holds no application tables.
  const schema = BUILT_IN_SCHEMA;
  const setup = await openDatabase(options.url, schema);
  try {
    await setup.migrate();
  } finally {
    await setup.close();
  }

  let foreign: ForeignSqlite | undefined;
  if (options.foreign) {
    foreign = await prepareForeignSqlite(options.note);
    if (foreign.warning) options.note(`\n*** WARNING: ${foreign.warning} ***\n`);
  }

  const children = startWriters(options, location, logDir, prefix, foreign);

  let summaries: (ProcessSummary | undefined)[];
  try {
    await withTimeout(Promise.all(children.map((c) => c.ready)), 60_000, 'writers did not report ready within 60 s');
    const endAt = Date.now() + options.seconds * 1000;
    for (const child of children) child.go(endAt);
    summaries = await watch(children, endAt, options);
  } catch (error) {
    for (const child of children) child.kill();
    throw error;
  }

  // No reaper here: nothing may move a row while the checks read it.
  const db = await openDatabase(options.url, schema, {
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
  });
  let report: StressReport;
  try {
    const files = db.table(mediaFiles);
    const verification = await verifyAcks(
      files,
      prefix,
      children.map((c) => readAckLog(join(logDir, `${c.name}.log`))),
    );
    const diagnosis = await db.diagnose();
    // PostgreSQL has no integrity_check; 'n/a' says so without failing the run.
    const integrity = Array.isArray(diagnosis.integrity) ? (diagnosis.integrity as string[]) : ['n/a'];
    report = buildReport(options, runId, children, summaries, foreign, { ...verification, integrity });
    // A failed run keeps its rows (and logs) for a look.
    if (report.ok && !options.keepRows) await deleteRun(files, prefix, options);
  } finally {
    await db.close();
  }
  if (report.ok) rmSync(logDir, { recursive: true, force: true });
  else report.logDir = logDir;
  return report;
}

/** Refuses what stress cannot run on before anything is touched. */
function checkedLocation(options: StressOptions): ReturnType<typeof parseUrl> {
  if (options.processes < 2)
    throw new SluiceError('CONFIG', `stress needs at least 2 processes (an ingester and a scheduler), got ${options.processes}.`);
  const location = parseUrl(options.url);
  if (options.foreign && (location.kind !== 'sqlite' || location.file === ':memory:')) {
    throw new SluiceError('CONFIG', `--foreign adds a Python sqlite3 writer, so it needs a SQLite file URL; got ${options.url}.`);
  }
  if (location.kind === 'sqlite' && location.file === ':memory:') {
    throw new SluiceError(
      'CONFIG',
      'stress runs several processes on one database; an in-memory database is private to one connection. Use a file.',
    );
  }
  return location;
}

/** Forks the Node writers, one per role, and the Python one with --foreign; each logs its acknowledgements. */
function startWriters(
  options: StressOptions,
  location: ReturnType<typeof parseUrl>,
  logDir: string,
  prefix: string,
  foreign: ForeignSqlite | undefined,
): StressChild[] {
  const children: StressChild[] = assignRoles(options.processes).map((role, i) =>
    forkNodeWriter({ role, name: `${role}-${i + 1}`, url: options.url, logFile: join(logDir, `${role}-${i + 1}.log`), prefix }),
  );
  if (foreign && location.kind === 'sqlite') {
    children.push(spawnForeignWriter({ file: location.file, logFile: join(logDir, 'py-1.log'), name: 'py-1', prefix }, foreign));
  }
  return children;
}

/** Shows progress until every writer has exited; kills those still running after the grace period. */
async function watch(children: StressChild[], endAt: number, options: StressOptions): Promise<(ProcessSummary | undefined)[]> {
  const bar = options.progress('stress', options.seconds, 's');
  const timer = setInterval(() => {
    const elapsed = options.seconds - Math.max(0, Math.ceil((endAt - Date.now()) / 1000));
    const acked = children.reduce((sum, c) => sum + c.acked, 0);
    bar.update(elapsed, `${acked} acknowledged writes (Node)`);
  }, 250);
  const killer = setTimeout(
    () => {
      options.note(`writers still running ${GRACE_MS / 1000} s after the end: killing them`);
      for (const child of children) child.kill();
    },
    endAt - Date.now() + GRACE_MS,
  );
  try {
    return await Promise.all(children.map((c) => c.done));
  } finally {
    clearInterval(timer);
    clearTimeout(killer);
    bar.stop();
  }
}

/** Deletes the run's rows, 1,000 per transaction. Their history rows stay: history is append-only. */
async function deleteRun(files: Table<MediaFilesTable>, prefix: string, options: StressOptions): Promise<void> {
  const bar = options.progress('cleanup', 1, 'passes');
  await files.deleteWhere({ path: { $like: `${prefix}%` } });
  bar.stop();
}

function buildReport(
  options: StressOptions,
  runId: string,
  children: readonly StressChild[],
  summaries: readonly (ProcessSummary | undefined)[],
  foreign: ForeignSqlite | undefined,
  checks: AckVerification & { integrity: string[] },
): StressReport {
  const { processes, missingSummaries, latency } = perProcess(children, summaries);
  const sum = (f: (p: ProcessFigures) => number) => processes.reduce((total, p) => total + f(p), 0);
  const totals = {
    acked: sum((p) => p.acked),
    opsPerSecond: sum((p) => p.opsPerSecond),
    busyRetries: sum((p) => p.busyRetries),
    busySurfaced: sum((p) => p.busySurfaced),
    errors: sum((p) => Object.values(p.errors).reduce((a, b) => a + b, 0)),
    readOwnWriteMisses: sum((p) => p.readOwnWriteMisses),
    claims: sum((p) => p.claims),
    lapsedSettlesTried: sum((p) => p.lapsedSettlesTried),
    lapsedSettlesRefused: sum((p) => p.lapsedSettlesRefused),
    illegalTried: sum((p) => p.illegalTried),
    illegalRefused: sum((p) => p.illegalRefused),
    illegalAccepted: sum((p) => p.illegalAccepted),
  };
  const byRole: Record<string, number> = {};
  for (const role of new Set(processes.map((p) => p.role))) {
    const same = processes.filter((p) => p.role === role);
    if (same.length >= 2) byRole[role] = ratio(same);
  }
  const ok = passed(checks, totals, missingSummaries);
  return {
    ok,
    db: options.url,
    runId,
    seconds: options.seconds,
    processes,
    missingSummaries,
    foreign: foreign
      ? {
          sqliteVersion: foreign.version,
          bundledVersion: foreign.bundledVersion,
          library: foreign.libraryDir ?? 'system',
          ...(foreign.warning ? { warning: foreign.warning } : {}),
        }
      : null,
    totals,
    latencyMs: latency.figures(),
    fairness: { overall: ratio(processes), byRole },
    checks,
    logDir: null,
  };
}

/** Each writer's figures from its summary; a writer that ended without one is named instead. */
function perProcess(children: readonly StressChild[], summaries: readonly (ProcessSummary | undefined)[]) {
  const processes: ProcessFigures[] = [];
  const missingSummaries: string[] = [];
  const latency = new LatencyHistogram();
  summaries.forEach((s, i) => {
    if (!s) {
      missingSummaries.push(children[i]?.name ?? `#${i}`);
      return;
    }
    latency.merge(s.latency);
    const { latency: histogram, elapsedMs, ...rest } = s;
    processes.push({
      ...rest,
      opsPerSecond: Math.round(s.acked / Math.max(0.001, elapsedMs / 1000)),
      latencyMs: LatencyHistogram.from(histogram).figures(),
    });
  });
  return { processes, missingSummaries, latency };
}

/** A run passes only with every check at zero, every writer accounted for and an intact database. */
function passed(
  checks: AckVerification & { integrity: string[] },
  totals: StressReport['totals'],
  missingSummaries: readonly string[],
): boolean {
  const integrityOk = checks.integrity.length === 1 && (checks.integrity[0] === 'ok' || checks.integrity[0] === 'n/a');
  return (
    missingSummaries.length === 0 &&
    checks.lostWrites === 0 &&
    checks.lostUpdates === 0 &&
    checks.processedTwice === 0 &&
    checks.claimedTwice === 0 &&
    checks.staleSettlesApplied === 0 &&
    checks.illegalStates === 0 &&
    checks.conflictingAcks === 0 &&
    checks.unacknowledgedChanges === 0 &&
    totals.busySurfaced === 0 &&
    totals.errors === 0 &&
    totals.readOwnWriteMisses === 0 &&
    totals.illegalAccepted === 0 &&
    integrityOk
  );
}

function ratio(processes: readonly ProcessFigures[]): number {
  if (processes.length === 0) return 0;
  const rates = processes.map((p) => p.opsPerSecond);
  const fastest = Math.max(...rates);
  return fastest === 0 ? 0 : Math.round((Math.min(...rates) / fastest) * 1000) / 1000;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SluiceError('UNAVAILABLE', `stress: ${message}.`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
