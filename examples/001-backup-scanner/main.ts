/**
 * Seed 001: a backup scanner finds 10,000+ files a second and must not block on the database;
 * the records go to a central PostgreSQL/openGauss in bulk. The seed kept them in a memory
 * database with 5-minute dumps (up to 5 minutes lost on a crash); here the local SQLite file is
 * the durable buffer and sync ships it, exactly once.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Database, fromEnv, type OpenOptions, open } from 'sluice';
import { type ExampleOptions, type ExampleReport, exampleDir, exited, postgresUrl, roleOf, sleep } from '../support.js';
import { backupFiles } from './schema.js';

const self = fileURLToPath(import.meta.url);

/**
 * The seed's variables, read as it read them (MEMORY_DB_SYNC_BATCH_SIZE rows, MEMORY_DB_SYNC_INTERVAL
 * seconds, MEMORY_DB_MAX_FILES pending), on top of SLUICE_PROFILE's low / normal / high tables.
 */
export function edgeOptions(url: string, target: string, schema: string, env = process.env): OpenOptions {
  const number = (name: string) => (env[name] === undefined ? undefined : Number(env[name]));
  const batchSize = number('MEMORY_DB_SYNC_BATCH_SIZE');
  const intervalS = number('MEMORY_DB_SYNC_INTERVAL');
  const maxPending = number('MEMORY_DB_MAX_FILES');
  return fromEnv(
    {
      url,
      tables: [backupFiles],
      sync: {
        target,
        schema,
        flavor: env.SYNC_FLAVOR === 'opengauss' ? 'opengauss' : 'postgres',
        drainMs: 10_000,
        ...(batchSize === undefined ? {} : { batchSize }),
        ...(intervalS === undefined ? {} : { intervalMs: intervalS * 1000 }),
        ...(maxPending === undefined ? {} : { maxPending }),
      },
    },
    { SLUICE_PROFILE: env.SLUICE_PROFILE ?? 'normal', ...env },
  );
}

/** The scanner: walks backup sets and records each file it finds, never waiting for a commit. */
async function scan(db: Database, sets: number, filesPerSet: number, setOffset = 0): Promise<{ records: number; ms: number }> {
  const files = db.table(backupFiles);
  const started = performance.now();
  let records = 0;
  for (let set = setOffset; set < setOffset + sets; set++) {
    for (let i = 0; i < filesPerSet; i++) {
      // Past the queue bound a producer that cannot wait checks the room first (enqueue drops past it).
      while (db.writeRoom(backupFiles) === 0) await sleep(1);
      files.enqueue({
        upsert: {
          backupSetId: set,
          filePath: `/data/set-${set}/dir-${i % 100}/file-${i}.bin`,
          fileName: `file-${i}.bin`,
          fileSize: i * 17,
          mtime: new Date(1_700_000_000_000 + i),
        },
      });
      records++;
    }
    // Let the gate commit between directories: the loop stays synchronous for a directory at a time.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { records, ms: performance.now() - started };
}

/** The seed's status printout (get_sync_status), from db.sync.status(). */
export function statusLines(db: Database): string[] {
  const s = db.sync.status();
  return [
    `总文件数 total files: ${s.total}`,
    `已同步 synced: ${s.synced}`,
    `待同步 pending: ${s.pending}`,
    `同步错误 errors: ${s.deadLetters}`,
    `同步进度 progress: ${(s.progress * 100).toFixed(1)}%`,
    `正在同步 syncing: ${s.syncing}   target: ${s.target}`,
  ];
}

/** A scanner process stopped with SIGTERM mid-scan: close() ships what it can within drainMs and keeps the rest. */
async function scannerProcess(args: Record<string, unknown>): Promise<void> {
  const db = await open(edgeOptions(args.url as string, args.target as string, args.schema as string));
  let closing: Promise<void> | undefined;
  process.on('SIGTERM', () => {
    closing ??= db.close().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready' });
  // Scans until stopped.
  for (let set = 1000; ; set++) {
    if (closing) return;
    await scan(db, 1, 2000, set);
    await db.flush().catch(() => {});
    process.send?.({ type: 'acked', upToSet: set });
  }
}

async function targetCount(target: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    const { rows } = await client.query(`select count(*)::int as n from "${schema}".backup_files`);
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

async function onTarget(target: string, fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

export async function run(options: ExampleOptions): Promise<ExampleReport> {
  const dir = exampleDir(options, '001');
  const target = postgresUrl(options);
  const schema = `sluice_example_001_${process.pid}`;
  const url = `sqlite:${join(dir, 'edge.db')}`;
  try {
    const db = await open(edgeOptions(url, target, schema));
    await db.migrate();
    // A constraint only the target has: the central table refuses empty file names (the seed's error_files).
    await onTarget(target, (c) => c.query(`alter table "${schema}".backup_files add constraint named check (file_name <> '')`));

    // Scan for the given time: as many backup sets of 10,000 files as fit.
    const until = Date.now() + options.seconds * 1000;
    let records = 0;
    let scanMs = 0;
    const committedFrom = performance.now();
    for (let set = 0; Date.now() < until; set++) {
      const r = await scan(db, 1, 10_000, set);
      records += r.records;
      scanMs += r.ms;
    }
    await db.flush();
    const committedMs = performance.now() - committedFrom;
    // A rescan of the first set (same keys, last state wins on the target) and two files the target refuses.
    await scan(db, 1, 2000, 0);
    await db.table(backupFiles).insert({ backupSetId: 99, filePath: '/bad/1', fileName: '', fileSize: 0, mtime: new Date() });
    await db.table(backupFiles).insert({ backupSetId: 99, filePath: '/bad/2', fileName: '', fileSize: 0, mtime: new Date() });
    const forced = await db.sync.flush(); // force_sync
    const errorsBeforeRetry = db.sync.status().deadLetters;
    const printout = statusLines(db);
    // The operator fixes the cause (here: the target's constraint goes) and retries the errors (retry_sync_errors).
    await onTarget(target, (c) => c.query(`alter table "${schema}".backup_files drop constraint named`));
    const retried = await db.sync.retry();
    await db.sync.flush();
    const errorsAfterRetry = db.sync.status().deadLetters;
    const local = await db.table(backupFiles).count();
    await db.close();
    const shipped = await targetCount(target, schema);

    // Drain on SIGTERM: a scanner process is stopped mid-scan; whatever it acknowledged is on the
    // target after its close(), or ships at the next start from the file it left.
    const drain = await sigtermDrain(url, target, schema);

    const figures = {
      scannedPerSecond: Math.round((records / scanMs) * 1000),
      committedPerSecond: Math.round((records / committedMs) * 1000),
      records,
      localRows: local,
      shippedRows: shipped,
      lostRows: local - shipped,
      forcedShip: forced,
      errorsBeforeRetry,
      retried,
      errorsAfterRetry,
      drainLostRows: drain.lost,
      drainShippedOnClose: drain.shippedOnClose,
      status: printout,
    };
    const met = figures.committedPerSecond >= 10_000 && figures.lostRows === 0 && errorsAfterRetry === 0 && drain.lost === 0;
    return {
      example: '001-backup-scanner',
      seconds: options.seconds,
      figures,
      promised: {
        committedPerSecond: '>= 10,000 files/s without blocking the scanner',
        lostRows: '0 (the seed: up to 5 minutes on a crash)',
        errorsAfterRetry: '0',
      },
      met,
    };
  } finally {
    await onTarget(target, (c) => c.query(`drop schema if exists "${schema}" cascade`)).catch(() => {});
  }
}

async function sigtermDrain(url: string, target: string, schema: string): Promise<{ lost: number; shippedOnClose: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--role', 'scanner', JSON.stringify({ url, target, schema })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let acked = -1;
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string; upToSet?: number }) => {
      if (m.type === 'acked') {
        acked = m.upToSet ?? acked;
        if (acked >= 1002) resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the scanner exited (${code}) before it was stopped`)));
  });
  child.kill('SIGTERM');
  await exited(child as never);
  const onClose = await targetCount(target, schema);
  // The next start ships what close() left in the file.
  const db = await open(edgeOptions(url, target, schema));
  await db.sync.flush();
  const local = await db.table(backupFiles).count();
  await db.close();
  const shipped = await targetCount(target, schema);
  return { lost: local - shipped, shippedOnClose: onClose };
}

const started = roleOf();
if (started?.role === 'scanner') {
  scannerProcess(started.args).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
