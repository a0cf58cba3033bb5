/**
 * Seed 003: a detection service runs a synchronous 30 FPS frame loop per camera and must save
 * results without slowing it (< 5 %), keep violation events with a status, hourly statistics,
 * alert rules with a history, and serve a query API. PostgreSQL and Redis, as the seed ran.
 */
import pg from 'pg';
import { type Database, open } from 'sluice';
import { createServer } from 'sluice/server';
import { type ExampleOptions, type ExampleReport, ms, postgresUrl, redisUrl, sleep } from '../support.js';
import { detections, hourly, violationEvents } from './schema.js';

const FPS = 30;
const CAMERAS = 4;
/** Every third frame is saved, as the seed did (a detection every 100 ms per camera). */
const SAVE_EVERY = 3;

/** A frame's detection work: a fixed amount of synchronous CPU, as a model's post-processing would be. */
function detect(frame: number): { persons: number; violations: number } {
  let x = frame;
  for (let i = 0; i < 60_000; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
  return { persons: x % 7, violations: x % 11 === 0 ? 1 : 0 };
}

/**
 * The seed's loop: synchronous, paced at 30 FPS for every camera. Returns the mean time a frame's
 * own work took (detect + save); the save is enqueue(): it returns at once and never throws.
 */
let frameNumber = 0;

function frameLoop(db: Database | undefined, seconds: number, counts: { saved: number; violations: number }): Promise<number> {
  return new Promise((resolve) => {
    let frame = frameNumber;
    let busy = 0;
    let frames = 0;
    const until = performance.now() + seconds * 1000;
    const tick = () => {
      const started = performance.now();
      for (let camera = 0; camera < CAMERAS; camera++) {
        const result = detect(frame * CAMERAS + camera);
        if (db && frame % SAVE_EVERY === 0) {
          const id = `${camera}-${frame}-${process.pid}`;
          db.table(detections).enqueue({
            insert: { id, cameraId: `cam-${camera}`, ts: new Date(), personCount: result.persons, violations: result.violations },
          });
          counts.saved++;
          if (result.violations > 0) {
            db.table(violationEvents).enqueue({ insert: { id: `v-${id}`, cameraId: `cam-${camera}`, kind: 'no-helmet' } });
            counts.violations++;
          }
        }
      }
      busy += performance.now() - started;
      frames++;
      frame++;
      frameNumber = frame;
      if (performance.now() >= until) resolve(busy / frames);
      else setTimeout(tick, Math.max(0, 1000 / FPS - (performance.now() - started)));
    };
    tick();
  });
}

async function withTarget<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function run(options: ExampleOptions): Promise<ExampleReport> {
  const url = postgresUrl(options);
  const schema = `sluice_example_003_${process.pid}`;
  const failures: unknown[] = [];
  const db = await open({
    url,
    postgres: { schema },
    tables: [detections, violationEvents],
    rollups: [hourly],
    cache: { redisUrl: redisUrl(options), keyPrefix: `sluice-example-003-${process.pid}:` },
    alerts: [
      { name: 'violations', table: violationEvents, where: { status: 'open' }, windowMs: 600_000, countAbove: 3, severity: 'critical' },
    ],
    alertIntervalMs: 500,
    onError: (error) => failures.push(error),
  });
  try {
    await db.migrate();
    const half = Math.max(1, options.seconds / 2);
    // A B A B: the loop alone, the loop saving, twice, so a noisy machine shows in both.
    const counts = { saved: 0, violations: 0 };
    const alone1 = await frameLoop(undefined, half / 2, counts);
    const saving1 = await frameLoop(db, half / 2, counts);
    const alone2 = await frameLoop(undefined, half / 2, counts);
    const saving2 = await frameLoop(db, half / 2, counts);
    await db.flush();
    const slowdown = (saving1 + saving2) / (alone1 + alone2) - 1;

    // Operators acknowledge and close some violations; the alert evaluates the open ones.
    const open = await db.table(violationEvents).find({ where: { status: 'open' }, limit: 2 });
    for (const event of open) await db.table(violationEvents).transition(event.id, 'closed');
    await sleep(700);
    await db.alerts.evaluate();

    const stored = await db.table(detections).count();
    const buckets = await db.table(hourly).find({ orderBy: ['-bucket', 'cameraId'], limit: 24 * CAMERAS });
    const framesInRollup = buckets.reduce((sum, b) => sum + b.frames, 0);
    const saveStats = db.stats().tables.detection_records?.writes.insert;

    // The query API, as the seed's dashboard used it.
    const server = createServer(db);
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address() as { port: number };
    const base = `http://127.0.0.1:${address.port}`;
    const page = await fetch(
      `${base}/api/v1/tables/detection_hourly/records?where=${encodeURIComponent(JSON.stringify({ cameraId: 'cam-0' }))}&orderBy=-bucket&limit=24`,
    );
    const count = await fetch(
      `${base}/api/v1/tables/violation_events/count?where=${encodeURIComponent(JSON.stringify({ status: 'open' }))}`,
    );
    const httpOk = page.ok && count.ok && ((await page.json()) as { rows: unknown[] }).rows.length > 0;
    await server.close();

    const figures = {
      frameLoopSlowdown: Math.round(slowdown * 1000) / 1000,
      frameMsAlone: ms((alone1 + alone2) / 2),
      frameMsSaving: ms((saving1 + saving2) / 2),
      saved: counts.saved,
      savedPerSecond: Math.round(counts.saved / half),
      saveLatencyMeanMs: saveStats?.meanMs ?? null,
      rowsLost: counts.saved - stored,
      enqueueFailures: failures.length,
      framesInRollup,
      rollupExact: framesInRollup === stored,
      violationsOpened: counts.violations,
      alertsFiring: db.alerts.firing().map((a) => a.name),
      alertHistory: (await db.alerts.history()).map((h) => `${h.rule} ${h.state} at ${h.value}`).reverse(),
      httpOk,
    };
    const met =
      figures.frameLoopSlowdown < 0.05 && figures.rowsLost === 0 && figures.enqueueFailures === 0 && figures.rollupExact && httpOk;
    return {
      example: '003-detection-service',
      seconds: options.seconds,
      figures,
      promised: { frameLoopSlowdown: '< 5 %', saveLatencyMeanMs: '10-20 ms per record (the seed, one at a time)', rowsLost: '0' },
      met,
    };
  } finally {
    await db.close().catch(() => {});
    await withTarget(url, (c) => c.query(`drop schema if exists "${schema}" cascade`)).catch(() => {});
  }
}
