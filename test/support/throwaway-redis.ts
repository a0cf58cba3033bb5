import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * A redis-server of one test file's own, on a free port, that the test may stop, freeze, kill
 * and restart. The machine's shared Redis is never touched: other work runs against it.
 */
export interface ThrowawayRedis {
  readonly port: number;
  readonly url: string;
  /** Running (possibly frozen). */
  readonly running: boolean;
  /** Starts the server (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the exit. */
  kill9(): Promise<void>;
  /** SIGSTOP: the sockets stay open and nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** stop() then start() on the same port. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHook = false;

function killAll(): void {
  for (const child of live) {
    if (child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

async function isFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  // Ports away from the shared 6379 and spread by PID so parallel test files rarely collide.
  const from = 20_000 + ((process.pid * 7) % 20_000);
  for (let port = from; port < from + 500; port++) if (await isFree(port)) return port;
  throw new Error('no free port for a throwaway redis-server');
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Creates (not starts) a throwaway Redis; it is killed by its own PID when the file's tests end
 * and when this process exits, whatever state it was left in. Call it where hooks may be
 * registered (a file's or a describe's top level), not inside a test.
 */
export async function throwawayRedis(): Promise<ThrowawayRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  let child: ChildProcess | undefined;
  if (!exitHook) {
    exitHook = true;
    process.once('exit', killAll);
  }
  // Registered before the first await, so it belongs to the suite that asked.
  afterAll(async () => {
    if (child) {
      live.delete(child);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGCONT');
        } catch {
          // already gone
        }
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const port = await freePort();

  const server: ThrowawayRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.running) throw new Error('the throwaway redis-server is already running');
      // A port just released may still be held by the previous server's socket for a moment.
      const until = Date.now() + 5000;
      while (!(await isFree(port))) {
        if (Date.now() > until) throw new Error(`port ${port} stayed busy`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const started = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      child = started;
      live.add(started);
      started.once('exit', () => live.delete(started));
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        started.stdout?.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes('Ready to accept connections')) resolve();
        });
        started.once('error', reject);
        started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${seen.slice(-500)}`)));
      });
    },
    async stop() {
      if (!child || !server.running) return;
      process.kill(child.pid!, 'SIGCONT');
      child.kill('SIGTERM');
      await exited(child);
    },
    async kill9() {
      if (!child || !server.running) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    pause() {
      if (child?.pid !== undefined && server.running) process.kill(child.pid, 'SIGSTOP');
    },
    resume() {
      if (child?.pid !== undefined && server.running) process.kill(child.pid, 'SIGCONT');
    },
    async restart() {
      await server.stop();
      await server.start();
    },
  };
  return server;
}
