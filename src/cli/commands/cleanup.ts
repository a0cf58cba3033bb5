import type { Command } from 'commander';
import { type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { resolveTarget, schemaToWrite, type TargetOptions, withSchemaOptions } from '../command-target.js';
import { openDatabase } from '../open-database.js';

type CleanupOptions = CommonOptions & TargetOptions;

/** One line of the cleanup report: what one job did to one table. */
interface CleanupStep {
  job: 'retention' | 'reap' | 'tasks';
  table: string;
  /** Rows deleted (retention, tasks) or leases handed back (reap). */
  rows: number;
  ms: number;
  detail?: string;
}

export function registerCleanup(program: Command): void {
  const command = program
    .command('cleanup')
    .description(
      "run the maintenance jobs once: each table's retention (1,000 rows per transaction), the lease reaper, and the task store's cleanup when the schema enables tasks",
    );
  withSchemaOptions(withCommonOptions(command)).action(
    commandAction('cleanup', async (options: CleanupOptions) => {
      const target = await resolveTarget(options);
      // The reaper and retention write the schema's tables: the demo's only where the demo may be.
      const schema = await schemaToWrite(target, 'cleanup');
      // The timers stay off: this command runs each job once, and alone.
      const db = await openDatabase(target.url, schema, {
        maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
      });
      try {
        const steps: CleanupStep[] = [];
        for (const report of await db.runRetention())
          steps.push({ job: 'retention', table: report.table, rows: report.deleted, ms: report.ms });
        const reapStarted = performance.now();
        const reaped = await db.reapExpiredLeases();
        // The reaper reports per table but is timed as one pass; each table gets its share.
        const reapMs = elapsed(reapStarted) / Math.max(1, reaped.length);
        for (const r of reaped) {
          steps.push({
            job: 'reap',
            table: r.table,
            rows: r.returned + r.exhausted,
            ms: round(reapMs),
            detail: `${r.returned} returned, ${r.exhausted} past their attempts`,
          });
        }
        if (schema.tasks !== false) {
          const started = performance.now();
          const deleted = await db.tasks.cleanup();
          steps.push({
            job: 'tasks',
            table: 'sluice_tasks',
            rows: deleted,
            ms: elapsed(started),
            detail: 'finished tasks older than 7 days',
          });
        }
        const totalMs = round(steps.reduce((sum, s) => sum + s.ms, 0));
        const lines = [`Cleanup of ${target.url} (${schema.source}):`];
        if (steps.length === 0) lines.push('  nothing to do: no table declares retention or leases, and the task store is off');
        for (const s of steps) {
          lines.push(
            `  ${s.job.padEnd(10)} ${s.table.padEnd(24)} ${String(s.rows).padStart(8)} rows ${s.ms.toFixed(1).padStart(9)} ms${s.detail ? `  (${s.detail})` : ''}`,
          );
        }
        lines.push(`  total ${totalMs.toFixed(1)} ms`);
        return { ok: true, data: { db: target.url, schema: schema.source, steps, totalMs }, text: lines.join('\n') };
      } finally {
        await db.close();
      }
    }),
  );
}

function elapsed(started: number): number {
  return round(performance.now() - started);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
