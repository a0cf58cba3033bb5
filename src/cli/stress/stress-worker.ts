import { mediaFiles } from '../media-files-table.js';
import { openDatabase } from '../open-database.js';
import { BUILT_IN_SCHEMA } from '../schema-loader.js';
import { AckLog } from './ack-log.js';
import type { ChildMessage, ParentMessage, WorkerConfig } from './stress-protocol.js';
import { runRole } from './stress-roles.js';
import { WorkerStats } from './worker-stats.js';

/**
 * One stress writer process (forked by the stress runner, or by the crash test). It reports
 * `ready`, waits for `go` with the run's end time, runs its role until then, finishes the writes
 * in flight, and sends its summary. Every acknowledged write is in its log before it is counted.
 */
const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

function waitForGo(): Promise<number> {
  return new Promise((resolve) => {
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'go') resolve(message.endAt);
    });
  });
}

async function main(): Promise<void> {
  const log = new AckLog(config.logFile);
  const db = await openDatabase(config.url, BUILT_IN_SCHEMA, {
    onError: (error) => process.stderr.write(`[${config.name}] ${String(error)}\n`),
  });
  await db.migrate();
  const stats = new WorkerStats();
  let endAt = Number.POSITIVE_INFINITY;
  if (config.autostart) {
    void send({ type: 'ready' });
  } else {
    const go = waitForGo();
    await send({ type: 'ready' });
    endAt = await go;
  }
  const started = performance.now();
  const progress = setInterval(() => void send({ type: 'progress', acked: stats.acked }), 500);
  try {
    await runRole(config.role, {
      files: db.table(mediaFiles),
      log,
      stats,
      name: config.name,
      prefix: config.prefix,
      running: () => Date.now() < endAt,
    });
  } finally {
    clearInterval(progress);
  }
  const elapsedMs = performance.now() - started;
  const busyRetries = db.stats().busy.retries;
  await db.close();
  log.close();
  await send({ type: 'summary', summary: stats.summary(config.name, config.role, elapsedMs, busyRetries) });
  process.disconnect?.();
}

main().catch(async (error: unknown) => {
  process.stderr.write(`[${config.name}] ${(error as Error)?.stack ?? String(error)}\n`);
  await send({ type: 'failed', message: (error as Error)?.message ?? String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
