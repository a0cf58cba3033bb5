import type { Table } from '../../src/index.js';
import type { sharedKv } from './cached-tables.js';

const now = () => performance.timeOrigin + performance.now();

/**
 * The coherency workload of one process: it writes the keys it owns (owner, owner + owners, …;
 * versions only grow) and reads random keys, logging every acknowledgement and every read with
 * wall-clock times as flat triples (key, version, time), so the test can tell which reads were
 * older than an acknowledged write.
 */
export class VersionedLoad {
  readonly reads: number[] = [];
  readonly acks: number[] = [];
  failures = 0;
  readonly #kv: Table<typeof sharedKv>;
  readonly #own: number[] = [];
  readonly #version = new Map<number, number>();
  readonly #keys: number;
  readonly #writeShare: number;
  readonly #writer: string;

  constructor(kv: Table<typeof sharedKv>, setup: { owner: number; owners: number; keys: number; writeShare: number; writer: string }) {
    this.#kv = kv;
    this.#keys = setup.keys;
    this.#writeShare = setup.writeShare;
    this.#writer = setup.writer;
    for (let k = setup.owner; k < setup.keys; k += setup.owners) this.#own.push(k);
  }

  /** One write (with probability writeShare) or one read; a failure is counted, the first few logged. */
  async step(): Promise<void> {
    try {
      if (Math.random() < this.#writeShare) {
        const key = this.#own[Math.floor(Math.random() * this.#own.length)] as number;
        const next = (this.#version.get(key) ?? 0) + 1;
        this.#version.set(key, next);
        await this.#kv.update(key, { version: next, writer: this.#writer });
        this.acks.push(key, next, now());
      } else {
        const key = Math.floor(Math.random() * this.#keys);
        const started = now();
        const row = await this.#kv.get(key);
        this.reads.push(key, row?.version ?? -1, started);
      }
    } catch (error) {
      this.failures++;
      if (this.failures < 5) console.error(error);
    }
  }
}
