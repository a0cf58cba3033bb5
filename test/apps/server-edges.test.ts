import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, open, SluiceError } from '../../src/index.js';
import { cutStrings, historyFrame, snapshotFrame } from '../../src/server/event-frames.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';
import { items } from '../support/tables.js';
import { followEvents, jobs, rawRequest, TOKEN, WRITE } from './server-support.js';

const T = '/api/v1/tables';
const FRAME_LIMIT = 64 * 1024;

/** Runs `work` and reports how long it took and the longest the event loop was held meanwhile. */
async function measured<R>(work: () => Promise<R>): Promise<{ result: R; ms: number; maxBlockMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // The histogram takes its first sample one interval after enable: a block before that is not seen.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 30));
  delay.disable();
  return { result, ms, maxBlockMs: delay.max / 1e6 };
}

describe('edges of the HTTP face', () => {
  const dir = tempDir();
  let db: Database;
  let app: SluiceServer;
  let base: string;
  let port: number;

  beforeAll(async () => {
    db = await open({ url: `sqlite:${join(dir, 'edges.db')}`, tables: [items, jobs] });
    await db.migrate();
    app = createServer(db, { token: TOKEN, eventIntervalMs: 100 });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(base).port);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });
  const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${base}${url}`, { method: 'POST', headers: { ...WRITE, 'content-type': 'application/json', ...headers }, body });

  it('refuses a megabyte of wrong JSON fast and briefly, and the event feed stays small', async () => {
    const events = await followEvents(`${base}/api/v1/events`);
    try {
      await events.next('snapshot');
      const megabyte = `[${Array.from({ length: 524_000 }, (_, i) => i % 10).join(',')}]`;
      expect(megabyte.length).toBeGreaterThan(1_000_000);
      const bodies: [string, string, string][] = [
        ['POST', `${T}/items/records`, megabyte],
        ['POST', `${T}/items/records`, JSON.stringify(Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`c${i}`, i])))],
        ['POST', `${T}/items/records`, JSON.stringify(Array.from({ length: 1000 }, () => ({ id: 'x'.repeat(900), name: 1 })))],
        ['PATCH', `${T}/items/records/1`, megabyte],
        ['POST', `${T}/jobs/claims`, megabyte],
        [
          'POST',
          `${T}/jobs/claims`,
          JSON.stringify({ from: 'pending', to: 'running', limit: 1, leaseMs: 1000, owner: 'w', where: { ['n'.repeat(1_000_000)]: 1 } }),
        ],
        ['POST', `${T}/items/records`, JSON.stringify({ ['n'.repeat(1_000_000)]: 1 })],
      ];
      for (const [method, url, body] of bodies) {
        const { result, ms, maxBlockMs } = await measured(async () => {
          const response = await fetch(`${base}${url}`, { method, headers: { ...WRITE, 'content-type': 'application/json' }, body });
          return { status: response.status, text: await response.text() };
        });
        expect({ url, status: result.status, code: JSON.parse(result.text).error.code }).toEqual({ url, status: 400, code: 'VALIDATION' });
        expect(result.text.length).toBeLessThan(4096);
        expect({ url, slow: ms > 1500, blocked: maxBlockMs > 250 }).toEqual({ url, slow: false, blocked: false });
      }

      // Errors reported by the host (the library's, sync's) of any size are kept short too.
      const huge = new SluiceError('UNAVAILABLE', `sync refused: ${'y'.repeat(5_000_000)}`);
      for (let i = 0; i < 25; i++) app.reportError(`sync ${'s'.repeat(10_000)}`, huge);
      const snapshot = await events.next('snapshot');
      expect(snapshot.bytes).toBeLessThan(FRAME_LIMIT);
      const { errors } = JSON.parse(snapshot.data) as { errors: { source: string; code: string; message: string }[] };
      expect(errors.length).toBeGreaterThan(0);
      for (const entry of errors) {
        expect(entry.message.length).toBeLessThanOrEqual(300);
        expect(entry.source.length).toBeLessThanOrEqual(200);
      }
      expect(errors.map((e) => e.code)).toContain('UNAVAILABLE');
      expect(Math.max(...events.frames.map((f) => f.bytes))).toBeLessThan(FRAME_LIMIT);
    } finally {
      await events.close();
    }
  });

  it('lists a failed request among the last errors, by route', async () => {
    const events = await followEvents(`${base}/api/v1/events`);
    try {
      const response = await post(`${T}/items/records`, JSON.stringify({ id: 1, name: 'n', score: 'x'.repeat(100_000) }));
      expect(response.status).toBe(400);
      const { errors } = JSON.parse((await events.next('snapshot')).data) as { errors: { source: string; message: string }[] };
      const mine = errors.find((e) => e.source === `POST ${T}/items/records`);
      expect(mine?.message).toMatch(/body\.score must be number/);
      expect(mine!.message.length).toBeLessThanOrEqual(300);
    } finally {
      await events.close();
    }
  });

  it('refuses a body that is not UTF-8 and stores nothing', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":77,"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const response = await post(`${T}/items/records`, bytes);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('VALIDATION');
    expect(body.error.message).toMatch(/not valid UTF-8/);
    expect(await db.table(items).get(77)).toBeUndefined();
    const overlong = await post(`${T}/items/records`, Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]));
    expect(overlong.status).toBe(400);
    const fine = await post(`${T}/items/records`, Buffer.from('{"id":78,"name":"café ü 😀"}', 'utf8'));
    expect(fine.status).toBe(201);
    expect((await db.table(items).get(78))?.name).toBe('café ü 😀');
  });

  it('answers a bad %-escape, a long key, a long URL and huge headers in the API error shape', async () => {
    const shaped = (status: number, text: string) => {
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
      expect({ status, code: body.error.code }).toMatchObject({ code: 'VALIDATION' });
      expect(text.length).toBeLessThan(2048);
      return body.error.message;
    };
    const badEscape = await fetch(`${base}${T}/items/records/%E0%A4%A`);
    expect(badEscape.status).toBe(400);
    expect(shaped(400, await badEscape.text())).toMatch(/malformed %-escape/);
    const longKey = await fetch(`${base}${T}/items/records/${'1'.repeat(5000)}`);
    expect(longKey.status).toBe(414);
    expect(shaped(414, await longKey.text())).toMatch(/path segment/);
    const longUrl = await rawRequest(port, `GET ${T}/items/records?where=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(longUrl.status).toBe(414);
    expect(longUrl.headers).toMatch(/content-type: application\/json/i);
    expect(shaped(414, longUrl.body)).toMatch(/request line/);
    const bigHeaders = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(bigHeaders.status).toBe(431);
    expect(shaped(431, bigHeaders.body)).toMatch(/headers/);
    const garbage = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.status).toBe(400);
    shaped(400, garbage.body);

    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, any>>; components: any };
    const get = spec.paths[`${T}/items/records/{key}`]!.get;
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['400', '414', '431']));
    expect(spec.components.responses.UriTooLong.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(spec.paths[`${T}/items/records`]!.post.responses['413']).toEqual({ $ref: '#/components/responses/BodyTooLarge' });
  });
});

describe('event frames', () => {
  it('stay under 64 KiB whatever a snapshot carries: long sync errors, many errors, many tables, long history', () => {
    const sync = cutStrings({ target: 'down', lastError: { message: 'z'.repeat(2_000_000), detail: ['q'.repeat(100_000)] } });
    const errors = Array.from({ length: 20 }, (_, i) => ({ at: 'now', source: `s${i}`, code: 'X', message: 'm'.repeat(300) }));
    const tables = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`table_${i}`, { total: i, states: { a: i, b: i } }]));
    const small = snapshotFrame({ errors, tables: { one: { total: 1 } }, sync });
    expect(small).toBeDefined();
    expect(Buffer.byteLength(small!)).toBeLessThan(FRAME_LIMIT);
    expect(JSON.parse(small!.split('data: ')[1]!).errors).toHaveLength(20);
    const big = snapshotFrame({ errors, tables, sync });
    expect(big === undefined || Buffer.byteLength(big) < FRAME_LIMIT).toBe(true);
    const history = Array.from({ length: 300 }, (_, t) => ({
      t,
      writes: Object.fromEntries(
        Object.keys(tables)
          .slice(0, 50)
          .map((n) => [n, t]),
      ),
    }));
    const frame = historyFrame(history, 'retry: 2000\n');
    expect(Buffer.byteLength(frame)).toBeLessThan(FRAME_LIMIT);
    const kept = JSON.parse(frame.split('data: ')[1]!) as { t: number }[];
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.at(-1)?.t).toBe(299);
  });
});
