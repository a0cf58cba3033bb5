import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';

// Forks the compiled CLI: run `npm run build` first.
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const TOKEN = 'shutdown-token-789';

function serve(args: string[], env: Record<string, string> = {}): { child: ChildProcess; address: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const address = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /dashboard at (http:\/\/\S+?)\//.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`sluice serve exited with ${code}: ${stderr}`)));
  });
  return { child, address, stderr: () => stderr };
}

describe('sluice serve', () => {
  const dir = tempDir();
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('refuses a non-loopback host without a token', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--db', `sqlite:${join(dir, 'x.db')}`, '--host', '0.0.0.0', '--port', '0'], {
      env: { ...process.env, SLUICE_API_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr).toMatch(/CONFIG: Refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('on SIGTERM during a write load finishes, closes the database, exits 0, and keeps every acknowledged write', async () => {
    const file = join(dir, 'shutdown.db');
    const server = serve(['--db', `sqlite:${file}`, '--demo', '--port', '0'], { SLUICE_API_TOKEN: TOKEN });
    children.push(server.child);
    const base = await server.address;
    const acknowledged: string[] = [];
    const refused = { http: 0, connection: 0 };
    let stop = false;
    let sequence = 0;
    const client = async (id: number) => {
      while (!stop) {
        const path = `/load/${id}/${sequence++}`;
        try {
          const response = await fetch(`${base}/api/v1/tables/media_files/records`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ path, size: id }),
          });
          await response.arrayBuffer();
          if (response.status === 201) acknowledged.push(path);
          else refused.http++;
        } catch {
          refused.connection++;
          // The listener is gone: the server is shutting down.
          if (server.child.exitCode !== null || refused.connection > 200) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const clients = Array.from({ length: 32 }, (_, i) => client(i));
    // The signal lands mid-load: after 100 acknowledged writes (however long a loaded machine takes), not after a fixed time.
    const loadStarted = Date.now();
    while (acknowledged.length <= 100 && Date.now() - loadStarted < 60_000) await new Promise((r) => setTimeout(r, 20));
    const beforeSignal = acknowledged.length;
    server.child.kill('SIGTERM');
    const [code] = await once(server.child, 'exit');
    stop = true;
    await Promise.all(clients);
    expect(code).toBe(0);
    expect(server.stderr()).toMatch(/SIGTERM: finishing requests in flight/);
    expect(beforeSignal).toBeGreaterThan(100);

    const check = new BetterSqlite3(file, { readonly: true });
    const select = check.prepare('select 1 from media_files where path = ?');
    const missing = acknowledged.filter((path) => select.get(path) === undefined);
    const stored = (check.prepare('select count(*) as n from media_files').get() as { n: number }).n;
    check.close();
    console.info(
      `shutdown: ${acknowledged.length} acknowledged (${beforeSignal} before SIGTERM), ${refused.http} refused with a status, ${refused.connection} connection errors, ${stored} rows stored, ${missing.length} missing`,
    );
    expect(missing).toEqual([]);
    expect(stored).toBeGreaterThanOrEqual(acknowledged.length);
  });
});
