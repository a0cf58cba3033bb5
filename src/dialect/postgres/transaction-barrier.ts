/*
 * Pipelining behind a pooler in transaction mode.
 *
 * The writer sends statements without waiting for the replies of those before (pg's pipeline
 * mode). PgBouncer hands the server connection to another client as soon as a transaction ends,
 * so a statement sent behind one that ends a transaction (COMMIT, ROLLBACK, or any statement
 * outside a transaction) may reach a server connection that already serves someone else, and run
 * there for nobody. The dialect never sends anything behind such a statement; the barrier keeps it
 * so whatever the code above it does: behind a pooler, a statement issued while one that may end
 * the transaction awaits its reply waits for that reply first. Inside a transaction nothing waits.
 */

const OPENS = /^\s*(begin|start\s+transaction)\b/i;
/** COMMIT, END, ABORT, ROLLBACK (not ROLLBACK TO SAVEPOINT), at the start or as the last statement of a simple query. */
const ENDS = /^\s*(commit|end|abort|rollback(?!\s+to\b))\b|;\s*(commit|end|rollback)\s*;?\s*$/i;

/** What a statement's text does to the transaction, as far as its text tells. */
export function transactionEffect(text: string): 'opens' | 'ends' | 'none' {
  if (ENDS.test(text)) return 'ends';
  return OPENS.test(text) ? 'opens' : 'none';
}

export class TransactionBarrier {
  #inTransaction = false;
  #pending: Promise<unknown> | undefined;

  /**
   * Sends a statement through `send`, after the reply to a statement that may have ended the
   * transaction, if one is still awaited. `send` is called synchronously when nothing is awaited,
   * so statements issued together still leave in the order they were issued.
   */
  run<T>(text: string, send: () => Promise<T>): Promise<T> {
    const pending = this.#pending;
    if (pending === undefined) return this.#send(text, send);
    return pending.then(
      () => this.run(text, send),
      () => this.run(text, send),
    );
  }

  #send<T>(text: string, send: () => Promise<T>): Promise<T> {
    const effect = transactionEffect(text);
    const mayEnd = effect === 'ends' || (effect === 'none' && !this.#inTransaction);
    this.#inTransaction = effect === 'opens' || (effect === 'none' && this.#inTransaction);
    const sent = send();
    if (mayEnd) {
      const settled = sent.then(noop, noop);
      this.#pending = settled;
      void settled.then(() => {
        if (this.#pending === settled) this.#pending = undefined;
      });
    }
    return sent;
  }
}

function noop(): void {}
