import { describe, expect, it } from 'vitest';
import { TransactionBarrier, transactionEffect } from '../../../src/dialect/postgres/transaction-barrier.js';

/** A statement whose reply comes when the test says so; records when it was sent. */
function statement(sent: string[], text: string) {
  let reply: (value: string) => void = () => {};
  const send = () => {
    sent.push(text);
    return new Promise<string>((resolve) => {
      reply = resolve;
    });
  };
  return { send, reply: (value = text) => reply(value) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the writer behind a transaction pooler sends nothing behind a possible end of transaction', () => {
  it('tells what a statement does to the transaction from its text', () => {
    expect(transactionEffect('begin; set local synchronous_commit = on; select 1')).toBe('opens');
    expect(transactionEffect('BEGIN')).toBe('opens');
    expect(transactionEffect('commit')).toBe('ends');
    expect(transactionEffect('rollback')).toBe('ends');
    expect(transactionEffect('begin; set local lock_timeout = 1000; insert into m values (1); commit')).toBe('ends');
    expect(transactionEffect('rollback to savepoint sluice_op; release savepoint sluice_op')).toBe('none');
    expect(transactionEffect('release savepoint sluice_run; savepoint sluice_op')).toBe('none');
    expect(transactionEffect('update t set committed = true where id = $1')).toBe('none');
  });

  it('pipelines inside a transaction and holds what follows COMMIT until its reply', async () => {
    const barrier = new TransactionBarrier();
    const sent: string[] = [];
    const begin = statement(sent, 'begin');
    const insert = statement(sent, 'insert');
    const commit = statement(sent, 'commit');
    const next = statement(sent, 'begin; select 2');
    const results = [
      barrier.run('begin; set local search_path = "s"', begin.send),
      barrier.run('insert into t values ($1)', insert.send),
      barrier.run('commit', commit.send),
      barrier.run('begin; select 2', next.send),
    ];
    // BEGIN, the insert and COMMIT leave at once; the next transaction waits for COMMIT's reply.
    expect(sent).toEqual(['begin', 'insert', 'commit']);
    begin.reply();
    insert.reply();
    await tick();
    expect(sent).toEqual(['begin', 'insert', 'commit']);
    commit.reply();
    await tick();
    expect(sent).toEqual(['begin', 'insert', 'commit', 'begin; select 2']);
    next.reply();
    expect(await Promise.all(results)).toEqual(['begin', 'insert', 'commit', 'begin; select 2']);
  });

  it('treats a statement outside a transaction as its own transaction, failed or not', async () => {
    const barrier = new TransactionBarrier();
    const sent: string[] = [];
    const first = statement(sent, 'select 1');
    const second = statement(sent, 'select 2');
    const third = statement(sent, 'select 3');
    const failing = barrier.run('select 1', () => first.send().then(() => Promise.reject(new Error('refused'))));
    const later = [barrier.run('select 2', second.send), barrier.run('select 3', third.send)];
    expect(sent).toEqual(['select 1']);
    first.reply();
    await expect(failing).rejects.toThrow('refused');
    await tick();
    // Issued together, they still leave in order, each after the reply to the one before.
    expect(sent).toEqual(['select 1', 'select 2']);
    second.reply();
    await tick();
    expect(sent).toEqual(['select 1', 'select 2', 'select 3']);
    third.reply();
    expect(await Promise.all(later)).toEqual(['select 2', 'select 3']);
  });
});
