import { PostgresSyncTarget } from '../dialect/postgres/postgres-sync-target.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { SyncOptions } from './sync-options.js';

/**
 * The shipper's one connection to the target, for one node id at a time. Dropping it lets the
 * node's shipping lock go with it; the next round connects afresh.
 */
export class TargetLink {
  readonly #options: SyncOptions & { target: string };
  readonly #synced: readonly AnyTableDef[];
  #target: PostgresSyncTarget | undefined;

  constructor(options: SyncOptions & { target: string }, synced: readonly AnyTableDef[]) {
    this.#options = options;
    this.#synced = synced;
  }

  /** A connection is held (connected, or lost and not yet dropped). */
  get held(): boolean {
    return this.#target !== undefined;
  }

  /** The connection for `nodeId`; `fresh` when it was made now (the target's tables were checked again). */
  async connect(nodeId: string): Promise<{ target: PostgresSyncTarget; fresh: boolean }> {
    if (this.#target && this.#target.nodeId !== nodeId) await this.drop();
    if (this.#target?.connected) return { target: this.#target, fresh: false };
    this.#target ??= new PostgresSyncTarget({
      url: this.#options.target,
      schema: this.#options.schema,
      flavor: this.#options.flavor,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      statementTimeoutMs: this.#options.statementTimeoutMs,
      nodeId,
      tables: this.#synced,
    });
    await this.#target.connect();
    return { target: this.#target, fresh: true };
  }

  async drop(): Promise<void> {
    const target = this.#target;
    this.#target = undefined;
    await target?.close();
  }
}
