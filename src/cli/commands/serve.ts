import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SluiceError, type SluiceLogger } from '../../index.js';
import { stderrLogger } from '../../internal.js';
import { type CommandOutcome, type CommonOptions, commandAction, wholeNumber, withCommonOptions } from '../cli-command.js';
import { cliRun, PROCESS_IO } from '../cli-io.js';
import { resolveTarget, schemaToWrite, type TargetOptions, withSchemaOptions } from '../command-target.js';
import { openDatabase } from '../open-database.js';
import { DemoScenario } from '../serve-demo.js';

interface ServeOptions extends CommonOptions, TargetOptions {
  host: string;
  port: number;
  migrate: boolean;
  tokenFile?: string;
  readToken?: string;
}

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('the HTTP API, /metrics, /openapi.json and the live dashboard; SIGTERM or SIGINT stop it gracefully');
  withSchemaOptions(
    withCommonOptions(command),
    "serve Sluice's built-in demo table media_files, migrate it, and run the seed-000 scenario (ingester, scheduler claims, smoke checker) in the background; refused in a database that holds other tables",
  )
    .option('--host <host>', 'address to listen on; a non-loopback one needs a token', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', wholeNumber(0, 65535), 8080)
    .option('--migrate', 'apply the schema before serving (always on with --demo)', false)
    .option('--token-file <file>', 'read the write token from this file (default: $SLUICE_API_TOKEN)')
    .option('--read-token <token>', 'close reads too: they need this token or the write token (default: $SLUICE_READ_TOKEN)')
    .action(commandAction('serve', serve));
}

async function serve(options: ServeOptions): Promise<CommandOutcome> {
  const { io, stopped } = cliRun();
  const token = writeToken(options);
  const readToken = options.readToken ?? (process.env.SLUICE_READ_TOKEN || undefined);
  if (token === undefined && !isLoopback(options.host)) {
    throw new SluiceError(
      'CONFIG',
      `Refusing to listen on ${options.host} without a token: anyone who can reach it could write. Set SLUICE_API_TOKEN or --token-file, or listen on 127.0.0.1.`,
      { value: options.host },
    );
  }
  const target = await resolveTarget(options);
  const schema = await schemaToWrite(target, 'serve');
  // Loaded through the package's own name: the CLI reaches the server as any user would.
  const { createServer } = await import('sluice/server');
  let report: (source: string, error: unknown) => void = () => {};
  // No onError: the library's own handler folds repeated failures (one line per distinct
  // error per interval, no stack) before they reach this logger, which also shows them on
  // the dashboard. A file served before it is migrated fails every reaper tick.
  const db = await openDatabase(target.url, schema, { logger: dashboardLogger((error) => report('database', error)) });
  let demo: DemoScenario | undefined;
  try {
    if (options.demo || options.migrate) await db.migrate();
    const app = createServer(db, {
      ...(token === undefined ? {} : { token }),
      ...(readToken === undefined ? {} : { readToken }),
      schemaVersion: schema.schemaVersion,
    });
    report = app.reportError;
    const address = await app.listen({ host: options.host, port: options.port });
    io.stderr(`sluice serve: dashboard at ${address}/ (API under ${address}/api/v1, docs at ${address}/docs)\n`);
    if (options.demo) {
      demo = new DemoScenario(db, (error) => app.reportError('demo', error));
      demo.start();
      io.stderr('sluice serve: demo scenario running (ingester, scheduler, smoke checker)\n');
    }
    const signal = await stopped();
    io.stderr(`sluice serve: ${signal}: finishing requests in flight, then closing the database\n`);
    // Stop taking requests and let those in flight finish, then flush every acknowledged write.
    await demo?.stop();
    await app.close();
    const stats = db.stats();
    await db.close();
    // Only fires if a stray handle would keep the process alive after everything closed; never in-process.
    if (io === PROCESS_IO) setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return {
      ok: true,
      data: { address, signal, writes: stats.ops.ok, failed: stats.ops.failed },
      text: `sluice serve: stopped after ${signal}; ${stats.ops.ok} writes committed, ${stats.ops.failed} rejected`,
    };
  } finally {
    await demo?.stop();
    await db.close();
  }
}

/** Errors (already folded by the library) on stderr and among the dashboard's last errors. */
function dashboardLogger(report: (error: Error) => void): SluiceLogger {
  const stderr = stderrLogger();
  return {
    ...stderr,
    error: (fields, message) => {
      stderr.error(fields, message);
      report(Object.assign(new Error(message ?? String(fields.message ?? 'error')), { code: fields.code ?? fields.name ?? 'ERROR' }));
    },
  };
}

function writeToken(options: ServeOptions): string | undefined {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8').trim();
    } catch (error) {
      throw new SluiceError('CONFIG', `Cannot read --token-file ${options.tokenFile}: ${(error as Error).message}.`, {
        value: options.tokenFile,
      });
    }
    if (text.length === 0) throw new SluiceError('CONFIG', `--token-file ${options.tokenFile} is empty.`, { value: options.tokenFile });
    return text;
  }
  const fromEnv = process.env.SLUICE_API_TOKEN;
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
