import { afterAll, expect, it } from 'vitest';
import { createDialect } from '../../src/dialect/create-dialect.js';
import type { Dialect } from '../../src/dialect/dialect.js';
import type { CommittedChange } from '../../src/dialect/write-op.js';
import { type ExtraWrite, WriteGate } from '../../src/gate/write-gate.js';
import { defineTable } from '../../src/index.js';
import { RowCodec } from '../../src/schema/row-codec.js';
import { forEachDialect } from '../support/databases.js';
import { items } from '../support/tables.js';

const audit = defineTable('extra_audit', {
  columns: { id: 'integer', source: 'text', itemId: 'integer' },
  primaryKey: 'id',
});

forEachDialect("the gate's extra-writes port", (t) => {
  const dialects: Dialect[] = [];
  afterAll(async () => {
    await Promise.all(dialects.map((d) => d.close()));
  });

  /** A gate of its own on a migrated database, so contributors can be registered on it directly. */
  async function gateOn(name: string) {
    const db = await t.open({ name, tables: [items, audit] });
    await db.migrate();
    await db.close();
    const { url, schema } = t.location(name);
    const dialect = await createDialect({
      url,
      durability: 'process-crash',
      lockTimeoutMs: 5000,
      sqlite: { cacheKiB: 2048, walMaxBytes: 64 << 20, checkpointIntervalMs: 0, create: false },
      postgres: { schema, poolSize: 2 },
    });
    dialects.push(dialect);
    const gate = new WriteGate(
      dialect,
      {
        maxQueue: 1000,
        whenFull: 'wait',
        deadlineMs: 5000,
        backoff: { initialMs: 1, maxMs: 20 },
        batch: { targetCommitMs: 50, minSize: 1, maxSize: 1000 },
      },
      (error) => {
        throw error;
      },
    );
    const codecs = { items: new RowCodec(items, dialect.adapter.codec), audit: new RowCodec(audit, dialect.adapter.codec) };
    let nextId = 0;
    /** A contributor writing one audit row per committed item change, tagged with its name. */
    const contributor = (source: string, seen: CommittedChange[][], id: () => number = () => nextId++) => {
      return (changes: readonly CommittedChange[]): ExtraWrite[] => {
        seen.push([...changes]);
        return changes
          .filter((c) => c.table === 'items')
          .map((c) => ({ codec: codecs.audit, command: codecs.audit.encodeInsert({ id: id(), source, itemId: c.key[0] }) }));
      };
    };
    const insertItems = (ids: readonly number[]) =>
      Promise.allSettled(ids.map((id) => gate.submit(codecs.items, codecs.items.encodeInsert({ id, name: `item ${id}` }))));
    const auditRows = async () =>
      (await dialect.selectAll('select source, item_id from extra_audit order by source, item_id', [])).map(
        (r) => `${r.source}:${r.item_id}`,
      );
    const itemCount = async () => Number((await dialect.selectAll('select count(*) as n from items', []))[0]?.n);
    return { gate, contributor, insertItems, auditRows, itemCount };
  }

  it('takes several contributors at once: each sees the batch changes and its rows commit with them', async () => {
    const { gate, contributor, insertItems, auditRows } = await gateOn('several');
    const seenA: CommittedChange[][] = [];
    const seenB: CommittedChange[][] = [];
    gate.addExtraWrites(contributor('a', seenA));
    gate.addExtraWrites(contributor('b', seenB));
    const results = await insertItems([1, 2, 3]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await auditRows()).toEqual(['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'b:3']);
    // Neither sees the other's rows: a contributor is told of the batch's own changes only.
    for (const seen of [seenA, seenB]) expect(seen.flat().map((c) => `${c.table}:${c.kind}`)).toEqual(Array(3).fill('items:insert'));
    await gate.close();
  });

  it("fails the whole batch when one contributor's write fails: nothing of it commits, the other contributor's rows included", async () => {
    const { gate, contributor, insertItems, auditRows, itemCount } = await gateOn('failing');
    gate.addExtraWrites(contributor('a', []));
    // Every row under one id: the second violates the audit table's primary key.
    gate.addExtraWrites(contributor('b', [], () => 1_000_000));
    const results = await insertItems([1, 2]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await itemCount()).toBe(0);
    expect(await auditRows()).toEqual([]);
    await gate.close();
  });

  it('stops calling a contributor once it is removed; the others go on', async () => {
    const { gate, contributor, insertItems, auditRows } = await gateOn('removed');
    const seenA: CommittedChange[][] = [];
    const removeA = gate.addExtraWrites(contributor('a', seenA));
    gate.addExtraWrites(contributor('b', []));
    await insertItems([1]);
    removeA();
    await insertItems([2]);
    expect(await auditRows()).toEqual(['a:1', 'b:1', 'b:2']);
    expect(seenA).toHaveLength(1);
    await gate.close();
  });
});
