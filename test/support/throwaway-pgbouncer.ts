import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { requireServices } from './services.js';

/*
 * A PgBouncer of a test's own in front of a PostgreSQL (normally a throwaway cluster): its own ini
 * in a temporary folder, its own port, no Unix socket, transaction pooling with a small server
 * pool so that the clients of several processes share server connections. It runs in the
 * foreground as a child of the test process (as the `postgres` OS user when the test runs as root:
 * PgBouncer refuses root), and is stopped by that child's PID in afterAll, on process exit, and,
 * for a runner that was itself killed, by the next run, which sweeps folders whose owner is gone.
 */

const PREFIX = 'sluice-pgbouncer-';
const OS_USER = 'postgres';
const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export interface ThrowawayPgBouncerOptions {
  /** `host=… port=…` of the server it pools (the `[databases]` entry `* = …`). */
  readonly serverHost?: string;
  readonly serverPort: number;
  /** Extra `[pgbouncer]` settings, values as the ini spells them (they override the defaults below). */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface ThrowawayPgBouncer {
  /** `postgres://postgres@127.0.0.1:<port>/<database>` through the pooler. */
  url(database?: string): string;
  readonly port: number;
  readonly dir: string;
  /** PgBouncer's PID while it runs. */
  pid(): number | undefined;
  /** SIGKILL, as a crash would: every client and server connection through it is cut. */
  kill9(): Promise<void>;
  /** Starts it again (same ini, same port) after kill9(); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and removes its folder. Safe to call twice. */
  destroy(): Promise<void>;
}

/** The PgBouncer binary, or undefined when this machine has none. */
export function pgbouncerBinary(): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' }).trim();
    if (found) return found;
  } catch {
    // Not on PATH (root's PATH may lack /usr/sbin): try the usual places.
  }
  return CANDIDATES.find((path) => existsSync(path));
}

/**
 * Whether the pooler tests can run. On a machine without PgBouncer they are skipped, loudly; in CI
 * (SLUICE_REQUIRE_SERVICES=1, where .ci/run installs it) a missing binary fails the run instead.
 */
export function pgbouncerSupported(): boolean {
  if (pgbouncerBinary() !== undefined) return true;
  if (requireServices) throw new Error('pgbouncer is required (SLUICE_REQUIRE_SERVICES=1) but not installed: apt-get install pgbouncer');
  console.warn('\n*** pgbouncer is not installed: the pooler tests are SKIPPED (apt-get install pgbouncer) ***\n');
  return false;
}

const live = new Set<Bouncer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const bouncer of live) bouncer.destroySync();
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** Kills PgBouncers left by a test process that was killed before its own cleanup ran. */
function sweepAbandoned(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = join(tmpdir(), entry);
    let owner = 0;
    try {
      owner = Number.parseInt(readFileSync(join(dir, 'owner.pid'), 'utf8'), 10);
    } catch {
      try {
        if (Date.now() - statSync(dir).mtimeMs < 10 * 60_000) continue;
      } catch {
        continue;
      }
    }
    if (owner > 0 && processAlive(owner)) continue;
    try {
      const pid = Number.parseInt(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8'), 10);
      // Only a PgBouncer whose command line names this folder's ini is ours to kill.
      if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
    } catch {
      // No pid file, or the process is gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

class Bouncer implements ThrowawayPgBouncer {
  readonly port: number;
  readonly dir: string;
  readonly #spawn: () => ChildProcess;
  #child: ChildProcess;
  #destroyed = false;

  constructor(dir: string, port: number, spawnIt: () => ChildProcess) {
    this.dir = dir;
    this.port = port;
    this.#spawn = spawnIt;
    this.#child = spawnIt();
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  pid(): number | undefined {
    const pid = this.#child.pid;
    return pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null ? pid : undefined;
  }

  /** Resolves once PgBouncer accepts connections; rejects if it exits first. */
  async ready(): Promise<void> {
    const child = this.#child;
    let onExit: (() => void) | undefined;
    try {
      await Promise.race([
        accepting(this.port, 10_000),
        new Promise((_, reject) => {
          onExit = () => reject(new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}): ${this.log()}`));
          child.once('exit', onExit);
        }),
      ]);
    } finally {
      if (onExit) child.off('exit', onExit);
    }
  }

  async kill9(): Promise<void> {
    if (this.pid() === undefined) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGKILL');
    await exited;
  }

  async start(): Promise<void> {
    if (this.#destroyed) throw new Error('this throwaway PgBouncer was destroyed');
    if (this.pid() !== undefined) return;
    this.#child = this.#spawn();
    await this.ready();
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    if (this.pid() !== undefined) {
      // SIGINT: a safe shutdown that does not wait for clients (SIGTERM would wait for them).
      this.#child.kill('SIGINT');
      const until = Date.now() + 5000;
      while (this.pid() !== undefined && Date.now() < until) await sleep(10);
    }
    this.destroySync();
  }

  destroySync(): void {
    this.#destroyed = true;
    live.delete(this);
    if (this.pid() !== undefined) this.#child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

async function accepting(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // The admin console answers without a server behind it: it proves PgBouncer itself is up.
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'pgbouncer', connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('show version');
      return;
    } catch (error) {
      if (Date.now() > until) throw new Error(`throwaway PgBouncer did not accept connections: ${(error as Error).message}`);
      await sleep(20);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

function ini(dir: string, port: number, options: ThrowawayPgBouncerOptions): string {
  const settings: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    // No Unix socket: the default, /tmp/.s.PGSQL.<port>, could meet another server's.
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'userlist.txt'),
    admin_users: 'postgres',
    pool_mode: 'transaction',
    // Two server connections for every client of every process: statements of different clients meet on them.
    default_pool_size: '2',
    max_client_conn: '500',
    // A restarted server is tried again at once, not after the default 15 s.
    server_login_retry: '0.2',
    pidfile: join(dir, 'pgbouncer.pid'),
    logfile: join(dir, 'pgbouncer.log'),
    ...options.settings,
  };
  return [
    '[databases]',
    `* = host=${options.serverHost ?? '127.0.0.1'} port=${options.serverPort}`,
    '[pgbouncer]',
    ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`),
    '',
  ].join('\n');
}

/** Starts a PgBouncer; the caller destroys it (throwawayPgBouncer() does so for a test file). */
export async function startThrowawayPgBouncer(options: ThrowawayPgBouncerOptions): Promise<ThrowawayPgBouncer> {
  const binary = pgbouncerBinary();
  if (binary === undefined) throw new Error('pgbouncer is not installed');
  sweepAbandoned();
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  const root = process.getuid?.() === 0;
  const uid = root ? Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }).trim()) : undefined;
  const gid = root ? Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }).trim()) : undefined;
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  let lastError: unknown;
  // A port found free may be taken before PgBouncer binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const file = join(dir, 'pgbouncer.ini');
    writeFileSync(file, ini(dir, port, options));
    if (uid !== undefined && gid !== undefined) chownSync(file, uid, gid);
    const bouncer = new Bouncer(dir, port, () => spawn(binary, [file], { uid, gid, stdio: 'ignore' }));
    live.add(bouncer);
    try {
      await bouncer.ready();
      return bouncer;
    } catch (error) {
      lastError = error;
      live.delete(bouncer);
      await bouncer.kill9();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** A PgBouncer for this test file, started on first use and stopped in afterAll. */
export function throwawayPgBouncer(options: () => Promise<ThrowawayPgBouncerOptions>): { get(): Promise<ThrowawayPgBouncer> } {
  let bouncer: Promise<ThrowawayPgBouncer> | undefined;
  afterAll(async () => {
    if (bouncer) await (await bouncer.catch(() => undefined))?.destroy();
  }, 30_000);
  return {
    get() {
      bouncer ??= options().then(startThrowawayPgBouncer);
      return bouncer;
    },
  };
}
