import { deserialize, serialize } from 'node:v8';
import { Redis } from 'ioredis';
import type { CacheKey } from './cache-key.js';
import { ABSENT, type Cached } from './l1-cache.js';

export interface RedisTierOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly retryMs: number;
  readonly maxInFlight: number;
  /** Tells this instance's own messages apart on the channel. */
  readonly instanceId: string;
}

/** What another instance committed: keys of one table, or "drop everything". */
export type RemoteInvalidation = { readonly table: string; readonly keys: readonly CacheKey[] } | { readonly all: true };

export interface RedisTierEvents {
  /** Another instance committed these keys. */
  onRemote(invalidations: readonly RemoteInvalidation[]): void;
  /** The channel dropped or came back: messages may have been missed, so drop L1. */
  onResync(): void;
}

/** The versions a miss saw; a fill is accepted only if neither moved while the row was loaded. */
export interface FillToken {
  readonly version: string;
  readonly epoch: string;
}

export type L2Read<V> = { readonly hit: true; readonly value: Cached<V> } | { readonly hit: false; readonly token: FillToken };

export interface RedisTierCounters {
  hits: number;
  misses: number;
  /** Reads that failed or timed out and fell back to the database. */
  fallbacks: number;
  /** Reads that did not try Redis: it was down, behind on an invalidation, or had too much in flight. */
  skipped: number;
  fills: number;
  fillsRejected: number;
  invalidationFailures: number;
  epochBumps: number;
  remoteMessages: number;
  resyncs: number;
}

// Versions outlive any load: a fill compares against the version it saw before loading.
const VERSION_TTL_MS = 24 * 3600 * 1000;

const FILL_SCRIPT = `
local version = redis.call('GET', KEYS[2]) or '0'
local epoch = redis.call('GET', KEYS[3]) or '0'
if version == ARGV[1] and epoch == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

type FillingRedis = Redis & {
  sluiceFill(
    valueKey: string,
    versionKey: string,
    epochKey: string,
    version: string,
    epoch: string,
    value: Buffer,
    ttlMs: number,
  ): Promise<number>;
};

/**
 * The shared tier. Every value carries the key's version and the database's epoch; an
 * invalidation bumps the version (and a foreign change the epoch), so a value loaded before a
 * commit can never be stored after it. Redis is optional to correctness: when it fails, hangs
 * or lags, reads skip it and go to the database, and this instance stops trusting it until an
 * epoch bump has gone through.
 */
export class RedisTier {
  readonly counters: RedisTierCounters = {
    hits: 0,
    misses: 0,
    fallbacks: 0,
    skipped: 0,
    fills: 0,
    fillsRejected: 0,
    invalidationFailures: 0,
    epochBumps: 0,
    remoteMessages: 0,
    resyncs: 0,
  };
  readonly #options: RedisTierOptions;
  readonly #events: RedisTierEvents;
  readonly #command: FillingRedis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #epochKey: string;
  #inFlight = 0;
  #downUntil = 0;
  #probing = false;
  /** An invalidation may not have reached Redis: trust nothing there until the epoch moves. */
  #dirty = false;
  /** Epoch bumps in progress: values read now might predate them. */
  #bumping = 0;
  #subscribed = false;
  #everSubscribed = false;
  #closed = false;

  constructor(options: RedisTierOptions, events: RedisTierEvents) {
    this.#options = options;
    this.#events = events;
    this.#channel = `${options.keyPrefix}invalidate`;
    this.#epochKey = `${options.keyPrefix}epoch`;
    const common = {
      // Requests fail at once while disconnected instead of queueing behind a dead link.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, options.timeoutMs * 4),
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
      lazyConnect: false,
    };
    // No auto-pipelining: it holds each request back to the next loop turn, which measured 15-50 µs
    // slower per read here; requests in flight still share the connection back to back.
    this.#command = new Redis(options.url, { ...common, connectionName: `${options.keyPrefix}cmd` }) as FillingRedis;
    this.#command.defineCommand('sluiceFill', { numberOfKeys: 3, lua: FILL_SCRIPT });
    this.#command.on('error', () => {});
    this.#command.on('close', () => this.#open());
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: false, connectionName: `${options.keyPrefix}sub` });
    this.#subscriber.on('error', () => {});
    this.#subscriber.on('ready', () => this.#subscribe());
    this.#subscriber.on('close', () => this.#channelLost());
    this.#subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#receive(message));
  }

  /** True while invalidations from other instances are arriving (the channel is subscribed). */
  get listening(): boolean {
    return this.#subscribed;
  }

  /** Requests sent and not yet answered (bounded by maxInFlight). */
  get inFlight(): number {
    return this.#inFlight;
  }

  get connected(): boolean {
    return this.#command.status === 'ready';
  }

  async read<V>(table: string, key: CacheKey): Promise<L2Read<V> | undefined> {
    if (!this.#usable()) {
      this.counters.skipped++;
      return undefined;
    }
    let reply: (Buffer | null)[];
    try {
      reply = await this.#timed(this.#command.mgetBuffer(this.#valueKey(table, key), this.#versionKey(table, key), this.#epochKey));
    } catch {
      this.counters.fallbacks++;
      this.#open();
      return undefined;
    }
    const [stored, versionBuffer, epochBuffer] = reply;
    const version = versionBuffer ? versionBuffer.toString() : '0';
    const epoch = epochBuffer ? epochBuffer.toString() : '0';
    if (stored) {
      const decoded = decode<V>(stored);
      if (decoded && decoded.version === version && decoded.epoch === epoch) {
        this.counters.hits++;
        return { hit: true, value: decoded.value };
      }
    }
    this.counters.misses++;
    return { hit: false, token: { version, epoch } };
  }

  /** Stores a loaded row unless its key or the epoch moved since the token was read. Never waits. */
  fill<V>(table: string, key: CacheKey, value: Cached<V>, token: FillToken, ttlMs: number): void {
    if (!this.#usable() || ttlMs <= 0) return;
    this.counters.fills++;
    this.#track(
      this.#command.sluiceFill(
        this.#valueKey(table, key),
        this.#versionKey(table, key),
        this.#epochKey,
        token.version,
        token.epoch,
        encode(value, token),
        ttlMs,
      ),
    ).then(
      (stored) => {
        if (stored !== 1) this.counters.fillsRejected++;
      },
      () => this.#open(),
    );
  }

  /**
   * Sends a commit's invalidations in one pipeline: bump each key's version and drop its value
   * for tables with an L2 policy, then tell other instances which keys changed.
   */
  invalidate(changes: readonly { table: string; keys: readonly CacheKey[]; l2: boolean }[]): void {
    if (this.#closed) return;
    // Down, or hung with requests piling up: send nothing now; the probe that reopens the tier
    // bumps the epoch and tells every instance to drop everything, which covers these keys.
    if (this.#command.status !== 'ready' || this.#downUntil !== 0 || this.#inFlight >= this.#options.maxInFlight) {
      this.#invalidationFailed();
      return;
    }
    const pipeline = this.#command.pipeline();
    for (const change of changes) {
      if (!change.l2) continue;
      for (const key of change.keys) {
        const versionKey = this.#versionKey(change.table, key);
        pipeline.incr(versionKey).pexpire(versionKey, VERSION_TTL_MS).del(this.#valueKey(change.table, key));
      }
    }
    const message = { s: this.#options.instanceId, c: changes.map((c) => ({ t: c.table, k: c.keys })) };
    pipeline.publish(this.#channel, JSON.stringify(message));
    this.#track(pipeline.exec()).then(
      (results) => {
        if (results?.some(([error]) => error)) this.#invalidationFailed();
      },
      () => this.#invalidationFailed(),
    );
  }

  /**
   * Makes every stored value stale (a foreign writer changed rows we cannot name). Reads skip
   * Redis until the bump is acknowledged.
   */
  bumpEpoch(): void {
    if (this.#closed) return;
    this.#bumping++;
    this.#dirty = true;
    const done = () => this.#bumping--;
    this.#timed(this.#command.incr(this.#epochKey))
      .then(() => {
        this.counters.epochBumps++;
        this.#dirty = false;
      })
      .catch(() => this.#failed())
      .finally(done);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscriber.disconnect();
    // A hung server never answers QUIT: wait at most one timeout, then drop the socket.
    await this.#timed(this.#command.quit()).catch(() => {});
    this.#command.disconnect();
  }

  #usable(): boolean {
    if (this.#closed || this.#bumping > 0 || this.#command.status !== 'ready') return false;
    if (this.#inFlight >= this.#options.maxInFlight) return false;
    if (this.#downUntil !== 0) {
      if (performance.now() < this.#downUntil || this.#probing) return false;
      this.#probe();
      return false;
    }
    return !this.#dirty;
  }

  /**
   * After a failure, one request checks whether Redis answers again. If an invalidation may have
   * been lost meanwhile, that request is the epoch bump that retires every stored value.
   */
  #probe(): void {
    this.#probing = true;
    const dirty = this.#dirty;
    this.#timed<unknown>(dirty ? this.#command.incr(this.#epochKey) : this.#command.ping())
      .then(() => {
        this.#downUntil = 0;
        if (dirty) {
          this.counters.epochBumps++;
          this.#dirty = false;
          this.#publishFlush();
        }
      })
      .catch(() => {
        this.#downUntil = performance.now() + this.#options.retryMs;
      })
      .finally(() => {
        this.#probing = false;
      });
  }

  /** Other instances may have missed our key invalidations: they drop their L1 too. */
  #publishFlush(): void {
    this.#command.publish(this.#channel, JSON.stringify({ s: this.#options.instanceId, all: true })).catch(() => {});
  }

  /**
   * Reads skip Redis until a probe succeeds. A failed read or fill leaves what Redis holds
   * correct (a late fill still checks versions), so it does not make the tier dirty.
   */
  #open(): void {
    if (this.#closed) return;
    // Failures while already open must not push the probe back, or steady traffic would keep it away.
    if (this.#downUntil === 0) this.#downUntil = performance.now() + this.#options.retryMs;
  }

  /** An invalidation or epoch bump may not have reached Redis: trust nothing there until the epoch moves. */
  #failed(): void {
    this.#dirty = true;
    this.#open();
  }

  #invalidationFailed(): void {
    this.counters.invalidationFailures++;
    this.#failed();
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    const tracked = this.#track(promise);
    return new Promise<T>((resolve, reject) => {
      // Timers run before I/O in the event loop: after a long synchronous stretch the timer would
      // fire ahead of a reply that is already waiting, so the verdict waits one poll phase.
      const timer = setTimeout(
        () => setImmediate(() => reject(new Error(`Redis did not answer within ${this.#options.timeoutMs} ms`))),
        this.#options.timeoutMs,
      );
      tracked.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Counts requests until Redis actually answers (not until we stop waiting), so a hung server fills the bound. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight++;
    return promise.finally(() => {
      this.#inFlight--;
    });
  }

  #subscribe(): void {
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        this.#subscribed = true;
        if (this.#everSubscribed) this.#resync();
        this.#everSubscribed = true;
      },
      () => {},
    );
  }

  #channelLost(): void {
    if (!this.#subscribed) return;
    this.#subscribed = false;
    if (!this.#closed) this.#resync();
  }

  #resync(): void {
    this.counters.resyncs++;
    this.#events.onResync();
  }

  #receive(message: Buffer): void {
    let parsed: { s?: string; all?: boolean; c?: { t: string; k: CacheKey[] }[] };
    try {
      parsed = JSON.parse(message.toString());
    } catch {
      return;
    }
    if (parsed.s === this.#options.instanceId) return;
    this.counters.remoteMessages++;
    if (parsed.all) this.#events.onRemote([{ all: true }]);
    else if (Array.isArray(parsed.c))
      this.#events.onRemote(
        parsed.c.map((c) => ({ table: String(c.t), keys: c.k.filter((k) => typeof k === 'string' || typeof k === 'number') })),
      );
  }

  #valueKey(table: string, key: CacheKey): string {
    return `${this.#options.keyPrefix}r:${table}:${key}`;
  }

  #versionKey(table: string, key: CacheKey): string {
    return `${this.#options.keyPrefix}n:${table}:${key}`;
  }
}

// A value is `version:epoch:` then 'a' (no such row) or 'r' and the row, v8-serialised so Dates
// and binary columns come back as they went in.
function encode<V>(value: Cached<V>, token: FillToken): Buffer {
  const header = Buffer.from(`${token.version}:${token.epoch}:${value === ABSENT ? 'a' : 'r'}`);
  return value === ABSENT ? header : Buffer.concat([header, serialize(value)]);
}

function decode<V>(stored: Buffer): { version: string; epoch: string; value: Cached<V> } | undefined {
  const first = stored.indexOf(58);
  const second = first < 0 ? -1 : stored.indexOf(58, first + 1);
  if (second < 0 || second + 1 >= stored.length) return undefined;
  const version = stored.toString('latin1', 0, first);
  const epoch = stored.toString('latin1', first + 1, second);
  const kind = stored[second + 1];
  try {
    const value = kind === 97 ? ABSENT : (deserialize(stored.subarray(second + 2)) as V);
    return { version, epoch, value };
  } catch {
    return undefined;
  }
}
