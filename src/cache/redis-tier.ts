import type { Redis } from 'ioredis';
import type { CacheKey } from './cache-key.js';
import type { Cached } from './l1-cache.js';
import { parseChannelMessage, pingMessage } from './redis-tier-codec.js';
import { commandConnection, type FillingRedis, InFlightRequests, subscriberConnection } from './redis-tier-connection.js';
import { EpochBump } from './redis-tier-epoch.js';
import { TierStore } from './redis-tier-store.js';
import { ChannelTrust } from './redis-tier-trust.js';
import type { FillToken, L2Read, RedisTierCounters, RedisTierEvents, RedisTierOptions, RedisTierState } from './redis-tier-types.js';
import { zeroCounters } from './redis-tier-types.js';

export type {
  FillToken,
  L2Read,
  RedisTierCounters,
  RedisTierEvents,
  RedisTierOptions,
  RedisTierState,
  RemoteInvalidation,
} from './redis-tier-types.js';

/**
 * The shared tier: the data path (read, fill, invalidate) over two connections, one for commands
 * and one subscribed to the invalidation channel. Every value carries the key's version and the
 * database's epoch; an invalidation bumps the version (and a foreign change the epoch), so a
 * value loaded before a commit can never be stored after it.
 *
 * Whether the channel may be trusted is ChannelTrust's (keepalives that must come back within
 * half the stale bound); whether Redis may hold values no invalidation reached is EpochBump's
 * (one epoch bump covers every loss); the key layout and the commands are TierStore's. Without
 * trust, or while a loss is unbumped, L2 is not read and L1 entries live at most the stale bound
 * from their load.
 */
export class RedisTier {
  readonly counters: RedisTierCounters = zeroCounters();
  readonly #options: RedisTierOptions;
  readonly #events: RedisTierEvents;
  readonly #command: FillingRedis;
  readonly #subscriber: Redis;
  readonly #store: TierStore;
  readonly #trust: ChannelTrust;
  readonly #epoch: EpochBump;
  readonly #timer: NodeJS.Timeout;
  readonly #requests: InFlightRequests;
  #downUntil = 0;
  #subscribed = false;
  #everReady = false;
  #failedToConnect = false;
  #lastError: string | undefined;
  #reported: RedisTierState | undefined;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  constructor(options: RedisTierOptions, events: RedisTierEvents) {
    this.#options = options;
    this.#events = events;
    this.#requests = new InFlightRequests(options.timeoutMs);
    // How long one echo vouches for the channel; the rest of the bound covers delivery.
    const trustMs = options.staleBoundMs / 2;
    this.#trust = new ChannelTrust(trustMs, this.counters, {
      onDoubt: () => {
        if (!this.#closed) this.#events.onResync();
      },
      onTrusted: () => this.#wake(),
    });
    this.#command = commandConnection(options);
    this.#command.on('error', (error: Error) => this.#connectionError(error));
    this.#command.on('ready', () => {
      this.#everReady = true;
      this.#failedToConnect = false;
      this.#tick();
    });
    this.#command.on('close', () => this.#open());
    this.#store = new TierStore(this.#command, this.#requests, options);
    this.#epoch = new EpochBump({
      command: this.#command,
      epochKey: this.#store.epochKey,
      channel: this.#store.channel,
      instanceId: options.instanceId,
      counters: this.counters,
      isClosed: () => this.#closed,
    });
    this.#subscriber = subscriberConnection(options);
    this.#subscriber.on('error', (error: Error) => this.#connectionError(error));
    this.#subscriber.on('ready', () => this.#subscribe());
    this.#subscriber.on('close', () => this.#channelLost());
    this.#subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#receive(message));
    this.#timer = setInterval(() => this.#tick(), Math.max(1, trustMs / 5));
    this.#timer.unref();
  }

  /** True while subscribed to other instances' invalidations. */
  get listening(): boolean {
    return this.#subscribed;
  }

  /** Requests sent and not yet answered (bounded by maxInFlight). */
  get inFlight(): number {
    return this.#requests.count;
  }

  get connected(): boolean {
    return this.#command.status === 'ready';
  }

  /**
   * The channel has been shown, within half the stale bound, to deliver every invalidation
   * Redis ran. Checked on every read: a lapse drops L1 before anything is served from it.
   */
  get trusted(): boolean {
    return this.#trust.check(performance.now());
  }

  get state(): RedisTierState {
    if (this.trusted && !this.#epoch.dirty) return 'trusted';
    if (this.connected) return 'untrusted';
    return this.#everReady || this.#failedToConnect ? 'down' : 'connecting';
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Round trip of the last keepalive that came back, in ms. */
  get echoRttMs(): number | undefined {
    return this.#trust.echoRttMs;
  }

  /**
   * Resolves once the channel is trusted, once a connection attempt has failed (Redis being
   * unreachable is not fatal: the tier starts untrusted), or after `timeoutMs`.
   */
  ready(timeoutMs: number): Promise<void> {
    if (this.#closed || this.trusted || this.#failedToConnect) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  /** Runs on every read: notices a lapsed keepalive without waiting for the timer. */
  checkTrust(): void {
    if (this.#trust.held) this.#trust.check(performance.now());
  }

  async read<V>(table: string, key: CacheKey): Promise<L2Read<V> | undefined> {
    if (!this.#usable()) {
      this.counters.skipped++;
      return undefined;
    }
    let found: L2Read<V>;
    try {
      found = await this.#store.read<V>(table, key);
    } catch {
      this.counters.fallbacks++;
      this.#open();
      return undefined;
    }
    if (found.hit) this.counters.hits++;
    else this.counters.misses++;
    return found;
  }

  /** Stores a loaded row unless its key or the epoch moved since the token was read. Never waits. */
  fill<V>(table: string, key: CacheKey, value: Cached<V>, token: FillToken, ttlMs: number): void {
    if (!this.#usable() || ttlMs <= 0) return;
    this.counters.fills++;
    this.#store.fill(table, key, value, token, ttlMs).then(
      (stored) => {
        if (!stored) this.counters.fillsRejected++;
      },
      () => this.#open(),
    );
  }

  /**
   * Sends a commit's invalidations in one pipeline: bump each key's version and drop its value
   * for tables with an L2 policy, then tell other instances which keys changed. Sent whenever
   * the connection takes commands: skipping one while Redis answers others would leave its keys
   * trusted elsewhere.
   */
  invalidate(changes: readonly { table: string; keys: readonly CacheKey[]; l2: boolean }[]): void {
    if (this.#closed) return;
    if (this.#command.status !== 'ready' || this.#requests.count >= this.#options.maxInFlight) {
      this.#invalidationLost();
      return;
    }
    this.#store.invalidate(changes).then(
      (applied) => {
        if (!applied) this.#invalidationLost();
      },
      () => this.#invalidationLost(),
    );
  }

  /**
   * Makes every stored value stale (a foreign writer changed rows we cannot name). Reads skip
   * Redis until the bump is acknowledged.
   */
  bumpEpoch(): void {
    if (this.#closed) return;
    this.#epoch.lost(false);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#wake();
    this.#subscriber.disconnect();
    // A hung server never answers QUIT: wait at most one timeout, then drop the socket.
    await this.#requests.timed(this.#command.quit()).catch(() => {});
    this.#command.disconnect();
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done();
  }

  #usable(): boolean {
    if (this.#closed || this.#command.status !== 'ready') return false;
    if (!this.#trust.check(performance.now()) || this.#epoch.dirty) return false;
    if (this.#requests.count >= this.#options.maxInFlight) return false;
    if (this.#downUntil !== 0) {
      // A fresh echo shows Redis answers again; the pause only spares it a burst of reads.
      if (performance.now() < this.#downUntil) return false;
      this.#downUntil = 0;
    }
    return true;
  }

  /** Every keepalive interval: reports a changed state, sends a pending epoch bump and a keepalive. */
  #tick(): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#trust.check(now);
    const state = this.state;
    if (state !== this.#reported) {
      this.#reported = state;
      this.#events.onState?.(state, this.#lastError);
    }
    if (this.#command.status !== 'ready') return;
    this.#epoch.send();
    if (!this.#subscribed) return;
    const seq = this.#trust.nextPing(now);
    if (seq === undefined) return;
    this.#command.publish(this.#store.channel, pingMessage(this.#options.instanceId, seq)).catch(() => this.#trust.pingFailed(seq));
  }

  /** After a failed read or fill, reads skip Redis for a while (what Redis holds stays correct). */
  #open(): void {
    if (this.#closed) return;
    // Failures while already open must not push the pause back, or steady traffic would keep it away.
    if (this.#downUntil === 0) this.#downUntil = performance.now() + this.#options.retryMs;
  }

  #invalidationLost(): void {
    this.counters.invalidationFailures++;
    this.#epoch.lost(true);
  }

  #connectionError(error: Error): void {
    this.#lastError = error.message;
    if (!this.#everReady && !this.#failedToConnect) {
      this.#failedToConnect = true;
      this.#wake();
    }
  }

  #subscribe(): void {
    this.#subscriber.subscribe(this.#store.channel).then(
      () => {
        this.#subscribed = true;
        this.#tick();
      },
      () => {},
    );
  }

  #channelLost(): void {
    this.#subscribed = false;
    this.#trust.channelLost();
  }

  #receive(buffer: Buffer): void {
    const message = parseChannelMessage(buffer);
    if (message.kind === 'ping') {
      if (message.instanceId === this.#options.instanceId) this.#trust.echo(message.seq, this.#subscribed);
      return;
    }
    if (message.kind !== 'invalidations' || message.from === this.#options.instanceId) return;
    this.counters.remoteMessages++;
    if (message.list !== undefined) this.#events.onRemote(message.list);
  }
}
