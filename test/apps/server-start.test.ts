import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('npm start', () => {
  const dir = tempDir('sluice-start-');
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
  });

  it('from a clean clone builds, serves the dashboard within 30 s and runs the demo', { timeout: 90_000 }, async () => {
    const clone = join(dir, 'clone');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const started = Date.now();
    // `detached` gives npm its own process group, so one signal reaches npm, its shell and the server.
    child = spawn('npm', ['start', '--', '--port', '0'], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const base = await new Promise<string>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /dashboard at (http:\/\/\S+?)\//.exec(output);
        if (match) resolve(match[1]!);
      };
      child!.stdout!.on('data', read);
      child!.stderr!.on('data', read);
      child!.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
    const page = await fetch(`${base}/`);
    const answeredMs = Date.now() - started;
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Sluice</title>');
    expect(answeredMs).toBeLessThan(30_000);
    let count = 0;
    for (let i = 0; i < 50 && count === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      count = ((await (await fetch(`${base}/api/v1/tables/media_files/count`)).json()) as { count: number }).count;
    }
    expect(count).toBeGreaterThan(0);
    console.info(`npm start: dashboard answered ${answeredMs} ms after the command, build included`);
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    // npm itself dies of the signal; the server's own last line says it shut down cleanly.
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/stopped after SIGTERM; \d+ writes committed/);
  });
});
