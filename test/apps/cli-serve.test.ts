import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';
import { sluice } from './cli-support.js';

/** serve in-process: it listens, answers, and stops when told; the bin's signals are tested in server-shutdown. */
describe('sluice serve in-process', () => {
  const dir = tempDir('sluice-cli-serve-');

  it('serves the demo on a free port, runs the scenario, and reports its writes when stopped', async () => {
    const url = `sqlite:${join(dir, 'serve.db')}`;
    let address = '';
    const answers: unknown[] = [];
    const run = await sluice(['serve', '--demo', '--db', url, '--port', '0'], dir, {} as Record<string, string>, {
      onStderr: (text) => {
        address = /dashboard at (http:\/\/\S+)\//.exec(text)?.[1] ?? address;
      },
      stopped: async () => {
        // The demo scenario writes in the background: wait for some, through the API.
        for (let i = 0; i < 100; i++) {
          const stats = (await (await fetch(`${address}/api/v1/stats`)).json()) as { ops?: { ok?: number } };
          answers.push(stats);
          if ((stats.ops?.ok ?? 0) > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return 'test';
      },
    });
    expect(run.code, `${run.stderr} ${JSON.stringify(run.body)}`).toBe(0);
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(run.body).toMatchObject({ command: 'serve', ok: true, address, signal: 'test', failed: 0 });
    expect(run.body.writes).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/demo scenario running/);
    expect(run.stderr).toMatch(/test: finishing requests in flight/);
  }, 60_000);

  it('refuses a public address without a token, and a token file that is missing or empty', async () => {
    const url = `sqlite:${join(dir, 'refused.db')}`;
    const open = await sluice(['serve', '--demo', '--db', url, '--host', '0.0.0.0', '--port', '0'], dir);
    expect(open).toMatchObject({ code: 1, body: { ok: false, error: { code: 'CONFIG' } } });
    expect(open.body.error.message).toMatch(/Refusing to listen on 0\.0\.0\.0 without a token/);
    const missing = await sluice(['serve', '--demo', '--db', url, '--token-file', join(dir, 'nope')], dir);
    expect(missing.body.error).toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/Cannot read --token-file .*nope/) });
    const empty = join(dir, 'empty-token');
    writeFileSync(empty, '\n');
    const blank = await sluice(['serve', '--demo', '--db', url, '--token-file', empty], dir);
    expect(blank.body.error).toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/is empty/) });
  });
});
