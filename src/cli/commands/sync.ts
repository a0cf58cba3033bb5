import type { Command } from 'commander';
import type { Database, SyncStatus } from '../../index.js';
import { type CommandOutcome, type CommandUi, type CommonOptions, commandAction, wholeNumber, withCommonOptions } from '../cli-command.js';
import { resolveTarget, schemaToWrite, type TargetOptions, withSchemaOptions } from '../command-target.js';
import { openDatabase } from '../open-database.js';
import { syncNodesAction } from './sync-nodes.js';

type SyncCliOptions = CommonOptions &
  TargetOptions & { target?: string; targetSchema?: string; flavor: 'postgres' | 'opengauss'; limit: number; timeoutMs: number };

type SyncAction = (db: Database, url: string, opts: SyncCliOptions, ui: CommandUi) => Promise<CommandOutcome>;

/** The subcommands, one line each. */
const ACTIONS: Readonly<Record<string, SyncAction>> = {
  status: status,
  flush: flush,
  retry: retry,
  'dead-letters': deadLetters,
};

/** `nodes` reads the centre alone and opens no edge file, so it stands beside the table. */
const ACTION_NAMES = [...Object.keys(ACTIONS), 'nodes'].join(', ');

export function registerSync(program: Command): void {
  const command = program
    .command('sync')
    .argument('<action>', `one of ${ACTION_NAMES}`)
    .description(
      'the shipper of tables declared with sync: status (pending, lag, target), flush (ship everything pending now), retry (dead letters back into the queue), dead-letters (rows the target refused, with its error), nodes (how the centre sees each edge node shipping into the target)',
    )
    .option('--target <url>', 'the sync target, postgres://… (default: $SLUICE_SYNC_TARGET)')
    .option('--target-schema <name>', 'the schema on the target the tables live in (default: $SLUICE_SYNC_SCHEMA, else the server default)')
    .option('--flavor <flavor>', "'postgres' or 'opengauss'", 'postgres')
    .option('--limit <n>', 'dead letters to list', wholeNumber(1, 1_000_000), 100)
    .option('--timeout-ms <ms>', 'how long status waits to hear from the target', wholeNumber(100, 600_000), 5000);
  withSchemaOptions(withCommonOptions(command)).action((action: string, options: SyncCliOptions) =>
    commandAction(`sync ${action}`, (opts: SyncCliOptions, ui) => runSync(action, opts, ui))(options),
  );
}

async function runSync(action: string, opts: SyncCliOptions, ui: CommandUi): Promise<CommandOutcome> {
  // nodes reads the centre alone and opens no edge file.
  if (action === 'nodes') return syncNodesAction(opts);
  const run = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
  if (run === undefined) {
    return { ok: false, data: { error: `unknown action ${action}` }, text: `Unknown sync action "${action}": use ${ACTION_NAMES}.` };
  }
  const target = opts.target ?? process.env.SLUICE_SYNC_TARGET;
  if (!target) {
    return { ok: false, data: { error: 'no target' }, text: 'sync needs a target: pass --target postgres://… or set SLUICE_SYNC_TARGET.' };
  }
  const where = await resolveTarget(opts);
  // The shipper writes its outbox and node row into the file: the demo's only where the demo may be.
  const schema = await schemaToWrite(where, `sync ${action}`);
  const targetSchema = opts.targetSchema ?? process.env.SLUICE_SYNC_SCHEMA;
  const db = await openDatabase(where.url, schema, {
    // Only this command ships: no count or age trigger fires while it looks.
    sync: {
      target,
      flavor: opts.flavor,
      intervalMs: 3_600_000,
      batchSize: 5000,
      maxPending: 100_000_000,
      drainMs: 0,
      ...(targetSchema ? { schema: targetSchema } : {}),
    },
    maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
  });
  try {
    await settled(db, opts.timeoutMs);
    return await run(db, where.url, opts, ui);
  } finally {
    await db.close();
  }
}

async function status(db: Database, url: string): Promise<CommandOutcome> {
  const now = db.sync.status();
  return { ok: now.target === 'up', data: { db: url, status: now }, text: describeStatus(url, now) };
}

async function flush(db: Database, url: string, _opts: SyncCliOptions, ui: CommandUi): Promise<CommandOutcome> {
  const before = db.sync.status();
  const bar = ui.progress('shipping', Math.max(1, before.pending), 'changes');
  const started = performance.now();
  try {
    await db.sync.flush({ onProgress: (shipped) => bar.update(shipped) });
  } finally {
    bar.stop();
  }
  const after = db.sync.status();
  const ms = Math.round(performance.now() - started);
  const shipped = after.synced - before.synced;
  return {
    ok: after.pending === 0,
    data: { db: url, shipped, ms, status: after },
    text: `Shipped ${shipped} changes in ${ms} ms.\n${describeStatus(url, after)}`,
  };
}

async function retry(db: Database, url: string): Promise<CommandOutcome> {
  const moved = await db.sync.retry();
  return {
    ok: true,
    data: { db: url, retried: moved },
    text: `${moved} dead letters are back in the queue; they ship with the next batch (sluice sync flush).`,
  };
}

async function deadLetters(db: Database, url: string, opts: SyncCliOptions): Promise<CommandOutcome> {
  const letters = await db.sync.deadLetters({ limit: opts.limit });
  const lines = [`${letters.length} dead letters in ${url}${letters.length === opts.limit ? ` (first ${opts.limit})` : ''}:`];
  for (const d of letters) lines.push(`  #${d.seq} ${d.table} ${JSON.stringify(d.key)}: ${d.error}`);
  return { ok: true, data: { db: url, deadLetters: letters }, text: lines.join('\n') };
}

/** Waits until the shipper has looked at the file and tried the target once. */
async function settled(db: Database, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const status = db.sync.status();
    if (status.nodeId !== undefined && (status.target === 'up' || status.lastError !== undefined)) return;
    if (performance.now() > until) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function describeStatus(db: string, s: SyncStatus): string {
  return [
    `Sync of ${db} (node ${s.nodeId ?? 'not migrated yet'}): target ${s.target}`,
    `  total ${s.total}  synced ${s.synced}  pending ${s.pending}  dead letters ${s.deadLetters}  progress ${(s.progress * 100).toFixed(1)}%`,
    `  lag ${s.lagMs} ms${s.lastBatch ? `  last batch ${s.lastBatch.size} rows in ${s.lastBatch.ms} ms` : ''}`,
    ...(s.lastError ? [`  last error: ${s.lastError}`] : []),
  ].join('\n');
}
