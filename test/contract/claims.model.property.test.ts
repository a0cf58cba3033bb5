import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable, type Table } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

const MAX_ATTEMPTS = 3;
const jobs = defineTable('jobs', {
  columns: { id: 'integer', status: 'text' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'failed', 'pending'], failed: ['pending'] },
    leases: { expireTo: 'pending', maxAttempts: MAX_ATTEMPTS, exhaustedTo: 'failed' },
  },
});
const ITEMS = [1, 2, 3, 4, 5];
const WORKERS = ['w0', 'w1', 'w2'];

interface Item {
  status: string;
  attempt: number;
  owner: string | null;
}
interface Model {
  items: Map<number, Item>;
  /** What each worker believes it holds: item → token. Stale beliefs are the point. */
  held: Map<string, Map<number, number>>;
  staleSettlesApplied: number;
  doubleClaims: number;
}
interface Real {
  table: Table<typeof jobs>;
}

class Claim implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly worker: string,
    readonly limit: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const rows = await r.table.claim({ from: 'pending', to: 'running', limit: this.limit, leaseMs: 60_000, owner: this.worker });
    const expected = ITEMS.filter((id) => m.items.get(id)?.status === 'pending').slice(0, this.limit);
    expect(rows.map((row) => row.id)).toEqual(expected);
    for (const row of rows) {
      const item = m.items.get(row.id) as Item;
      for (const [other, held] of m.held) if (other !== this.worker && held.has(row.id) && item.status === 'running') m.doubleClaims++;
      item.status = 'running';
      item.attempt++;
      item.owner = this.worker;
      expect(row.attempt).toBe(item.attempt);
      m.held.get(this.worker)?.set(row.id, row.attempt);
    }
  }
  toString = () => `claim(${this.worker}, ${this.limit})`;
}

class Settle implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly worker: string,
    readonly id: number,
    readonly to: 'done' | 'failed',
  ) {}
  check = (m: Readonly<Model>) => m.held.get(this.worker)?.has(this.id) === true;
  async run(m: Model, r: Real) {
    const token = m.held.get(this.worker)?.get(this.id) as number;
    const item = m.items.get(this.id) as Item;
    const result = await r.table.transition(this.id, this.to, { from: 'running', token });
    const shouldApply = item.status === 'running' && item.attempt === token;
    if (result.applied && !shouldApply) m.staleSettlesApplied++;
    expect(result.applied).toBe(shouldApply);
    if (shouldApply) Object.assign(item, { status: this.to, owner: null });
    m.held.get(this.worker)?.delete(this.id);
  }
  toString = () => `settle(${this.worker}, ${this.id}, ${this.to})`;
}

class Renew implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly worker: string,
    readonly id: number,
  ) {}
  check = (m: Readonly<Model>) => m.held.get(this.worker)?.has(this.id) === true;
  async run(m: Model, r: Real) {
    const token = m.held.get(this.worker)?.get(this.id) as number;
    const item = m.items.get(this.id) as Item;
    expect(await r.table.renew(this.id, token, 60_000)).toBe(item.status === 'running' && item.attempt === token && item.owner !== null);
  }
  toString = () => `renew(${this.worker}, ${this.id})`;
}

/**
 * Lease expiry: the current holder renews for one millisecond (callers cannot back-date a lease),
 * the test waits past it, then one reaper pass. Every other lease runs for a minute.
 */
class Expire implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: number) {}
  check = (m: Readonly<Model>) => m.items.get(this.id)?.status === 'running';
  async run(m: Model, r: Real) {
    const item = m.items.get(this.id) as Item;
    expect(await r.table.renew(this.id, item.attempt, 1)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3));
    await r.table.reapExpired();
    Object.assign(item, { status: item.attempt >= MAX_ATTEMPTS ? 'failed' : 'pending', owner: null });
  }
  toString = () => `expire(${this.id})`;
}

class Retry implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const item = m.items.get(this.id) as Item;
    const result = await r.table.transition(this.id, 'pending', { from: 'failed' });
    expect(result.applied).toBe(item.status === 'failed');
    if (result.applied) item.status = 'pending';
  }
  toString = () => `retry(${this.id})`;
}

forEachDialect('leased claims agree with a model state machine', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [jobs], maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 } });
    await db.migrate();
  });

  it('random claim / renew / settle / expire / retry sequences: no divergence, no stale settle, no double claim', async () => {
    const worker = fc.constantFrom(...WORKERS);
    const item = fc.constantFrom(...ITEMS);
    const commands = [
      fc.tuple(worker, fc.integer({ min: 1, max: 3 })).map(([w, n]) => new Claim(w, n)),
      fc.tuple(worker, item, fc.constantFrom('done' as const, 'failed' as const)).map(([w, i, to]) => new Settle(w, i, to)),
      fc.tuple(worker, item).map(([w, i]) => new Renew(w, i)),
      item.map((i) => new Expire(i)),
      item.map((i) => new Retry(i)),
    ];
    let totals = { staleSettlesApplied: 0, doubleClaims: 0, runs: 0 };
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { size: '+1' }), async (cmds) => {
        const table = db.table(jobs);
        await table.deleteWhere({}, { all: true });
        await Promise.all(ITEMS.map((id) => table.insert({ id })));
        const model: Model = {
          items: new Map(ITEMS.map((id) => [id, { status: 'pending', attempt: 0, owner: null }])),
          held: new Map(WORKERS.map((w) => [w, new Map()])),
          staleSettlesApplied: 0,
          doubleClaims: 0,
        };
        await fc.asyncModelRun(() => ({ model, real: { table } }), cmds);
        const rows = await table.find({ orderBy: 'id' });
        expect(rows.map((row) => [row.id, row.status, row.attempt])).toEqual(
          ITEMS.map((id) => [id, model.items.get(id)?.status, model.items.get(id)?.attempt]),
        );
        totals = {
          staleSettlesApplied: totals.staleSettlesApplied + model.staleSettlesApplied,
          doubleClaims: totals.doubleClaims + model.doubleClaims,
          runs: totals.runs + 1,
        };
      }),
      { numRuns: 60 },
    );
    console.info(
      `claims model: ${totals.runs} runs, stale settles applied ${totals.staleSettlesApplied}, double claims ${totals.doubleClaims}`,
    );
    expect(totals.staleSettlesApplied).toBe(0);
    expect(totals.doubleClaims).toBe(0);
  });
});
