import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runNode } from '../support/child-processes.js';
import { forEachDialect, tempDir } from '../support/databases.js';
import { foreignPython } from '../support/foreign-python.js';
import { ROLLUP_HOUR, readings, readingsHourly } from '../support/rollup-tables.js';

const PROCESSES = 3;
const OPS = 3000;

type Bucket = { rows: number; frames: number; persons: number; peak: number; low: number };

forEachDialect('rollups under several processes', (t) => {
  it(`equal a recompute from the raw rows after ${PROCESSES} processes wrote the same rows and buckets`, { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const db = await t.open({ name: 'shared', tables: [readings], rollups: [readingsHourly], maintenance: { retentionIntervalMs: 0 } });
    await db.migrate();
    const { url, schema } = t.location('shared');
    const go = join(dir, 'go');
    const script = join(import.meta.dirname, '..', 'support', 'rollup-process.ts');
    const writers = Array.from({ length: PROCESSES }, (_, w) => {
      const ready = join(dir, `ready-${w}`);
      return { ready, done: runNode(['--import', 'tsx', script, url, schema ?? '', ready, go, String(w * 7919 + 1), String(OPS)]) };
    });
    const exitedEarly = Promise.all(writers.map((w) => w.done)).then(() => new Error('a writer exited before the start signal'));
    while (!writers.every((w) => existsSync(w.ready))) {
      const early = await Promise.race([exitedEarly, new Promise((r) => setTimeout(r, 20, undefined))]);
      if (early instanceof Error) throw early;
    }
    writeFileSync(go, '');
    // On SQLite a foreign writer (Python's sqlite3, no Sluice) changes rows meanwhile: the rollup's triggers count it too.
    const foreign =
      t.dialect === 'sqlite'
        ? Array.from({ length: 20 }, (_, i) =>
            i % 2 === 0
              ? `insert or replace into readings (id, camera, ts, persons) values (${1000 + i}, 'a', ${Date.UTC(2026, 11, 1) + i * 60_000}, ${i})`
              : `update readings set persons = persons + 1 where id = ${i * 13}`,
          )
        : [];
    if (foreign.length > 0) {
      const file = url.slice('sqlite:'.length);
      await new Promise((r) => setTimeout(r, 200));
      const results = foreignPython(file, foreign);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    }
    await Promise.all(writers.map((w) => w.done));

    const rows = await db.table(readings).find({ orderBy: 'id' });
    const expected = new Map<string, Bucket>();
    for (const r of rows) {
      const key = `${Math.floor(r.ts.getTime() / ROLLUP_HOUR) * ROLLUP_HOUR}|${r.camera}`;
      const b = expected.get(key) ?? { rows: 0, frames: 0, persons: 0, peak: r.persons, low: r.persons };
      expected.set(key, {
        rows: b.rows + 1,
        frames: b.frames + 1,
        persons: b.persons + r.persons,
        peak: Math.max(b.peak, r.persons),
        low: Math.min(b.low, r.persons),
      });
    }
    const stored = await db.table(readingsHourly).find({ orderBy: ['bucket', 'camera'] });
    const got = new Map(
      stored
        .filter((b) => b.rows > 0)
        .map((b) => [
          `${b.bucket.getTime()}|${b.camera}`,
          { rows: b.rows, frames: b.frames, persons: b.persons, peak: b.peak, low: b.low },
        ]),
    );
    const wrong = [...new Set([...expected.keys(), ...got.keys()])].filter(
      (k) => JSON.stringify(expected.get(k)) !== JSON.stringify(got.get(k)),
    );
    expect(rows.length).toBeGreaterThan(100);
    expect({ buckets: expected.size, wrong: wrong.map((k) => ({ k, expected: expected.get(k), got: got.get(k) })) }).toEqual({
      buckets: expected.size,
      wrong: [],
    });
  });
});
