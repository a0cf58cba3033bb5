import type { Command } from 'commander';
import { type CommonOptions, commandAction, wholeNumber, withCommonOptions } from '../cli-command.js';
import { cliRun } from '../cli-io.js';
import { resolveDemoUrl, type TargetOptions, withDemoOption } from '../command-target.js';
import { formatStressReport } from '../stress/stress-report.js';
import { runStress } from '../stress/stress-runner.js';

interface StressCommandOptions extends CommonOptions, Omit<TargetOptions, 'schema'> {
  processes: number;
  seconds: number;
  foreign: boolean;
  keepRows: boolean;
}

export function registerStress(program: Command): void {
  const command = program
    .command('stress')
    .description(
      "the shared-file scenario: an ingester, schedulers claiming transfers under leases, and a low-priority smoke checker in separate processes (plus a Python sqlite3 writer with --foreign, claiming with plain SQL and trying illegal moves) write one database; afterwards every acknowledged write, fencing token and lifecycle history is checked against it; it writes Sluice's demo table media_files, on the default demo file or with --demo",
    );
  withDemoOption(withCommonOptions(command))
    .option('--processes <n>', 'Node writer processes: 1 ingester, schedulers, and from 3 on 1 smoke checker', wholeNumber(2, 64), 4)
    .option('--seconds <s>', 'how long the writers run', wholeNumber(1, 86_400), 10)
    .option('--foreign', 'add a Python sqlite3 writer (SQLite only)', false)
    .option('--keep-rows', "leave the run's rows in the database (by default they are deleted after the checks)", false)
    .action(
      commandAction('stress', async (options: StressCommandOptions, ui) => {
        const report = await runStress({
          url: await resolveDemoUrl(options, 'stress'),
          processes: options.processes,
          seconds: options.seconds,
          foreign: options.foreign,
          keepRows: options.keepRows,
          note: (text) => cliRun().io.stderr(`${text}\n`),
          progress: ui.progress,
        });
        const { ok, ...data } = report;
        return { ok, data, text: formatStressReport(report) };
      }),
    );
}
