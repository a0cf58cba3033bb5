import { LANES, type Lane, type QueuedWrite } from './lanes.js';

/** A FIFO that can also put items back at its head, without O(n) shifts on the hot path. */
class Deque<T> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts items back at the head, keeping their order. */
  unshiftAll(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  drain(): T[] {
    const items = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

/**
 * The gate's queue: one FIFO per priority lane. A batch fills from `high` first, then `normal`,
 * then `low`, so a diagnostic write never stands ahead of an important one.
 */
export class OpQueue {
  readonly #lanes: Record<Lane, Deque<QueuedWrite>> = { high: new Deque(), normal: new Deque(), low: new Deque() };
  #size = 0;

  get size(): number {
    return this.#size;
  }

  depth(lane?: Lane): number {
    return lane ? this.#lanes[lane].size : this.#size;
  }

  push(op: QueuedWrite): void {
    this.#lanes[op.lane].push(op);
    this.#size++;
  }

  take(max: number): QueuedWrite[] {
    const batch: QueuedWrite[] = [];
    for (const lane of LANES) {
      const deque = this.#lanes[lane];
      while (batch.length < max && deque.size > 0) batch.push(deque.shift() as QueuedWrite);
    }
    this.#size -= batch.length;
    return batch;
  }

  /** Returns ops of a batch that must be tried again to the head of their lanes, in order. */
  putBack(ops: readonly QueuedWrite[]): void {
    for (const lane of LANES) this.#lanes[lane].unshiftAll(ops.filter((op) => op.lane === lane));
    this.#size += ops.length;
  }

  drainAll(): QueuedWrite[] {
    const all = LANES.flatMap((lane) => this.#lanes[lane].drain());
    this.#size = 0;
    return all;
  }
}
