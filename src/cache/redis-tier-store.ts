import type { CacheKey } from './cache-key.js';
import type { Cached } from './l1-cache.js';
import { decodeValue, encodeValue, invalidationMessage } from './redis-tier-codec.js';
import type { FillingRedis, InFlightRequests } from './redis-tier-connection.js';
import type { FillToken, L2Read } from './redis-tier-types.js';

// Versions outlive any load: a fill compares against the version it saw before loading.
const VERSION_TTL_MS = 24 * 3600 * 1000;

/**
 * Where the tier keeps things in Redis, and the three commands of its data path: a value lives
 * beside its key's version and the database's epoch, so a read can tell a current value from one
 * an invalidation or a bump has retired. Whether a command may be sent, and what its failure
 * means for the tier, is RedisTier's.
 */
export class TierStore {
  /** The pub/sub channel that carries invalidations and keepalives between instances. */
  readonly channel: string;
  readonly epochKey: string;
  readonly #keyPrefix: string;
  readonly #instanceId: string;
  readonly #command: FillingRedis;
  readonly #requests: InFlightRequests;

  constructor(command: FillingRedis, requests: InFlightRequests, options: { readonly keyPrefix: string; readonly instanceId: string }) {
    this.#command = command;
    this.#requests = requests;
    this.#keyPrefix = options.keyPrefix;
    this.#instanceId = options.instanceId;
    this.channel = `${options.keyPrefix}invalidate`;
    this.epochKey = `${options.keyPrefix}epoch`;
  }

  /** The value when its version and epoch are still current, else the token its fill must match; rejects past the timeout. */
  async read<V>(table: string, key: CacheKey): Promise<L2Read<V>> {
    const reply: (Buffer | null)[] = await this.#requests.timed(
      this.#command.mgetBuffer(this.#valueKey(table, key), this.#versionKey(table, key), this.epochKey),
    );
    const [stored, versionBuffer, epochBuffer] = reply;
    const version = versionBuffer ? versionBuffer.toString() : '0';
    const epoch = epochBuffer ? epochBuffer.toString() : '0';
    if (stored) {
      const decoded = decodeValue<V>(stored);
      if (decoded && decoded.version === version && decoded.epoch === epoch) return { hit: true, value: decoded.value };
    }
    return { hit: false, token: { version, epoch } };
  }

  /** Resolves with whether Redis stored the value: it refuses once the key or the epoch has moved past the token. */
  fill<V>(table: string, key: CacheKey, value: Cached<V>, token: FillToken, ttlMs: number): Promise<boolean> {
    return this.#requests
      .track(
        this.#command.sluiceFill(
          this.#valueKey(table, key),
          this.#versionKey(table, key),
          this.epochKey,
          token.version,
          token.epoch,
          encodeValue(value, token),
          ttlMs,
        ),
      )
      .then((stored) => stored === 1);
  }

  /**
   * One pipeline: bump each key's version and drop its value for tables with an L2 policy, then
   * publish which keys changed. Resolves false when Redis refused any step of it.
   */
  invalidate(changes: readonly { table: string; keys: readonly CacheKey[]; l2: boolean }[]): Promise<boolean> {
    const pipeline = this.#command.pipeline();
    for (const change of changes) {
      if (!change.l2) continue;
      for (const key of change.keys) {
        const versionKey = this.#versionKey(change.table, key);
        pipeline.incr(versionKey).pexpire(versionKey, VERSION_TTL_MS).del(this.#valueKey(change.table, key));
      }
    }
    pipeline.publish(this.channel, invalidationMessage(this.#instanceId, changes));
    return this.#requests.track(pipeline.exec()).then((results) => !results?.some(([error]) => error));
  }

  #valueKey(table: string, key: CacheKey): string {
    return `${this.#keyPrefix}r:${table}:${key}`;
  }

  #versionKey(table: string, key: CacheKey): string {
    return `${this.#keyPrefix}n:${table}:${key}`;
  }
}
