import { hostname } from 'node:os';
import type { Command } from 'commander';
import { SluiceError, type Table } from '../../index.js';
import { type CommandOutcome, type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { resolveDemoUrl, type TargetOptions, withDemoOption } from '../command-target.js';
import { mediaFiles } from '../media-files-table.js';
import { openDatabase } from '../open-database.js';
import { BUILT_IN_SCHEMA } from '../schema-loader.js';

interface SmokeOptions extends CommonOptions, Omit<TargetOptions, 'schema'> {
  nonBlocking: boolean;
}

type StepStatus = 'ok' | 'busy' | 'failed' | 'skipped';

interface StepResult {
  step: string;
  status: StepStatus;
  ms: number;
  detail?: string;
}

const STEPS = ['insert', 'read', 'transition', 'delete'] as const;

export function registerSmoke(program: Command): void {
  const command = program
    .command('smoke')
    .description(
      "the diagnostic round trip on Sluice's demo table media_files at low priority: insert a test row, read it, move it along its lifecycle, delete it (on the default demo file, or with --demo)",
    );
  withDemoOption(withCommonOptions(command))
    .option('--non-blocking', 'try every write once; report BUSY instead of waiting for a lock held elsewhere', false)
    .action(commandAction('smoke', smoke));
}

async function smoke(options: SmokeOptions): Promise<CommandOutcome> {
  const url = await resolveDemoUrl(options, 'smoke');
  const db = await openDatabase(url, BUILT_IN_SCHEMA);
  const files = db.table(mediaFiles);
  const path = `smoke/${hostname()}-${process.pid}-${Date.now()}`;
  try {
    const { steps, inserted, deleted } = await roundTrip(files, path, options.nonBlocking);
    let leftBehind = false;
    if (inserted && !deleted) {
      // A BUSY mid-way must not leave the test row behind: clean up, waiting this time.
      leftBehind = !(await files.delete(path, { priority: 'low', timeoutMs: 10_000 }).catch(() => false));
    }
    const ok = steps.every((s) => s.status === 'ok');
    const busy = steps.some((s) => s.status === 'busy');
    const total = Math.round(steps.reduce((sum, s) => sum + s.ms, 0) * 1000) / 1000;
    const lines = [`Smoke round trip on ${url}${options.nonBlocking ? ' (non-blocking)' : ''}, test row ${path}:`];
    for (const s of steps)
      lines.push(`  ${s.step.padEnd(10)} ${s.status.padEnd(8)} ${s.ms.toFixed(3).padStart(9)} ms${s.detail ? `  ${s.detail}` : ''}`);
    lines.push(`  ${'total'.padEnd(10)} ${''.padEnd(8)} ${total.toFixed(3).padStart(9)} ms`);
    if (busy) lines.push('BUSY: another process holds the write lock; nothing was waited for. Try again, or run `sluice doctor`.');
    if (leftBehind) lines.push(`warning: the test row ${path} could not be removed; delete it by hand.`);
    lines.push(ok ? 'ok' : 'FAILED');
    return {
      ok,
      data: { db: url, nonBlocking: options.nonBlocking, path, steps, totalMs: total, busy, leftBehind },
      text: lines.join('\n'),
    };
  } finally {
    await db.close();
  }
}

/** Insert, read, transition, delete; after the first step that is not ok, the rest are skipped. */
async function roundTrip(files: Table<typeof mediaFiles>, path: string, nonBlocking: boolean) {
  const write = { priority: 'low', nonBlocking } as const;
  const steps: StepResult[] = [];
  let inserted = false;
  let deleted = false;
  const run = async (step: (typeof STEPS)[number], fn: () => Promise<string | undefined>) => {
    if (steps.some((s) => s.status !== 'ok')) {
      steps.push({ step, status: 'skipped', ms: 0 });
      return;
    }
    const started = performance.now();
    try {
      const detail = await fn();
      steps.push({ step, status: 'ok', ms: elapsed(started), ...(detail ? { detail } : {}) });
    } catch (error) {
      const busy = SluiceError.is(error, 'BUSY');
      const code = SluiceError.is(error) ? error.code : 'ERROR';
      steps.push({ step, status: busy ? 'busy' : 'failed', ms: elapsed(started), detail: `${code}: ${(error as Error).message}` });
    }
  };
  await run('insert', async () => {
    // Still downloading, so no scheduler claims the test row for a transfer.
    await files.insert({ path, size: 1, downloadStatus: 'DOWNLOADING' }, write);
    inserted = true;
    return undefined;
  });
  await run('read', async () => {
    const row = await files.get(path);
    if (!row) throw new SluiceError('NOT_FOUND', `The row ${path} was acknowledged but cannot be read back.`);
    return `transferStatus=${row.transferStatus}`;
  });
  await run('transition', async () => {
    const moved = await files.transition(path, 'downloading', {
      ...write,
      from: 'pending',
      set: { updatedAt: new Date() },
      returning: 'row',
    });
    if (!moved.applied) throw new SluiceError('CONFLICT', `The test row ${path} is ${moved.row.transferStatus}; another writer moved it.`);
    return `transferStatus=${moved.row.transferStatus}`;
  });
  await run('delete', async () => {
    deleted = await files.delete(path, write);
    if (!deleted) throw new SluiceError('NOT_FOUND', `The row ${path} was gone before the delete.`);
    return undefined;
  });
  return { steps, inserted, deleted };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
