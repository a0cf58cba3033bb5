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
  /** No read may return a value older than one acknowledged this long ago, whatever Redis does. */
  readonly staleBoundMs: number;
}

/** What another instance committed: keys of one table, or "drop everything". */
export type RemoteInvalidation = { readonly table: string; readonly keys: readonly CacheKey[] } | { readonly all: true };

export interface RedisTierEvents {
  /** Another instance committed these keys. */
  onRemote(invalidations: readonly RemoteInvalidation[]): void;
  /** The channel can no longer be shown to deliver every message: drop L1. */
  onResync(): void;
  /** The tier's state changed (seen at the next keepalive tick): for the log. */
  onState?(state: RedisTierState, lastError: string | undefined): void;
}

/** The versions a miss saw; a fill is accepted only if neither moved while the row was loaded. */
export interface FillToken {
  readonly version: string;
  readonly epoch: string;
}

export type L2Read<V> = { readonly hit: true; readonly value: Cached<V> } | { readonly hit: false; readonly token: FillToken };

/**
 * connecting: no answer yet since open; down: the last connection failed; untrusted: connected
 * but the channel is not proven to deliver (no recent keepalive echo) or an invalidation may be
 * lost; trusted: L2 is read and L1 entries live their full TTL.
 */
export type RedisTierState = 'connecting' | 'down' | 'untrusted' | 'trusted';

export interface RedisTierCounters {
  hits: number;
  misses: number;
  /** Reads that failed or timed out and fell back to the database. */
  fallbacks: number;
  /** Reads that did not try Redis: it was down, untrusted, behind on an invalidation, or had too much in flight. */
  skipped: number;
  fills: number;
  fillsRejected: number;
  invalidationFailures: number;
  epochBumps: number;
  remoteMessages: number;
  /** Times L1 was dropped because the channel could no longer be shown to deliver. */
  resyncs: number;
  /** Keepalive messages sent through the channel to ourselves. */
  keepalives: number;
  /** Keepalives that came back. */
  echoes: number;
}

// Versions outlive any load: a fill compares against the version it saw before loading.
const VERSION_TTL_MS = 24 * 3600 * 1000;
// Keepalives are plain text so a receiver tells them from invalidations by the first byte.
const PING = 'p|';
const PING_BYTE = PING.charCodeAt(0);
// Keepalives unanswered at once: a hung server must not collect an endless queue of them.
const MAX_PINGS_IN_FLIGHT = 3;

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
 * commit can never be stored after it.
 *
 * Trust is earned, never assumed: a keepalive published on the channel must come back to this
 * instance within half the stale bound. Redis hands out channel messages in the order it runs
 * commands, so an echo proves every invalidation Redis ran before the keepalive has reached us.
 * Without a recent echo (not yet connected, down, hung) L2 is not read and L1 entries live at
 * most the stale bound from their load; losing trust drops L1. An invalidation that may not have
 * reached Redis makes this instance bump the epoch (and tell everyone to drop L1) as soon as the
 * connection takes commands again, written behind anything already on the socket so a hung
 * server runs it before anything asked after it wakes.
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
    keepalives: 0,
    echoes: 0,
  };
  readonly #options: RedisTierOptions;
  readonly #events: RedisTierEvents;
  readonly #command: FillingRedis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #epochKey: string;
  /** How long one echo vouches for the channel; the rest of the bound covers delivery. */
  readonly #trustMs: number;
  readonly #pingEveryMs: number;
  readonly #timer: NodeJS.Timeout;
  #inFlight = 0;
  #downUntil = 0;
  #trusted = false;
  #trustedUntil = 0;
  /** When, since trust was last lost, an echo first showed the server answering; undefined until then. */
  #answeringSince: number | undefined;
  #pingSeq = 0;
  /** Keepalive sequence → when it was sent. */
  readonly #pings = new Map<number, number>();
  #echoRttMs: number | undefined;
  /** Counts events that may have left stale values in Redis (lost invalidations, foreign commits). */
  #lostSeq = 0;
  /** The highest #lostSeq a sent epoch bump covers, and one Redis has acknowledged. */
  #bumpSentSeq = 0;
  #bumpedSeq = 0;
  #bumpInFlight = false;
  /** Our key invalidations may not have reached other instances: tell them to drop L1 with the bump. */
  #flushOthers = false;
  #subscribed = false;
  #everReady = false;
  #failedToConnect = false;
  #lastError: string | undefined;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  constructor(options: RedisTierOptions, events: RedisTierEvents) {
    this.#options = options;
    this.#events = events;
    this.#channel = `${options.keyPrefix}invalidate`;
    this.#epochKey = `${options.keyPrefix}epoch`;
    this.#trustMs = options.staleBoundMs / 2;
    this.#pingEveryMs = Math.max(1, this.#trustMs / 5);
    // Reconnects come often enough that an instance back from an outage bumps the epoch for the
    // invalidations it could not send well within the bound.
    const reconnectCapMs = Math.max(10, Math.min(1000, options.staleBoundMs / 4));
    const common = {
      // Requests fail at once while disconnected instead of queueing behind a dead link.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, options.timeoutMs * 4),
      retryStrategy: (times: number) => Math.min(10 * times, reconnectCapMs),
      lazyConnect: false,
    };
    // No auto-pipelining: it holds each request back to the next loop turn, which measured 15-50 µs
    // slower per read here; requests in flight still share the connection back to back.
    this.#command = new Redis(options.url, { ...common, connectionName: `${options.keyPrefix}cmd` }) as FillingRedis;
    this.#command.defineCommand('sluiceFill', { numberOfKeys: 3, lua: FILL_SCRIPT });
    this.#command.on('error', (error: Error) => this.#connectionError(error));
    this.#command.on('ready', () => {
      this.#everReady = true;
      this.#failedToConnect = false;
      this.#tick();
    });
    this.#command.on('close', () => this.#open());
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: false, connectionName: `${options.keyPrefix}sub` });
    this.#subscriber.on('error', (error: Error) => this.#connectionError(error));
    this.#subscriber.on('ready', () => this.#subscribe());
    this.#subscriber.on('close', () => this.#channelLost());
    this.#subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#receive(message));
    this.#timer = setInterval(() => this.#tick(), this.#pingEveryMs);
    this.#timer.unref();
  }

  /** True while subscribed to other instances' invalidations. */
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

  /**
   * The channel has been shown, within half the stale bound, to deliver every invalidation
   * Redis ran. Checked on every read: a lapse drops L1 before anything is served from it.
   */
  get trusted(): boolean {
    return this.#checkTrust(performance.now());
  }

  get state(): RedisTierState {
    if (this.trusted && !this.#dirty()) return 'trusted';
    if (this.connected) return 'untrusted';
    return this.#everReady || this.#failedToConnect ? 'down' : 'connecting';
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Round trip of the last keepalive that came back, in ms. */
  get echoRttMs(): number | undefined {
    return this.#echoRttMs;
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
    if (this.#trusted) this.#checkTrust(performance.now());
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
   * for tables with an L2 policy, then tell other instances which keys changed. Sent whenever
   * the connection takes commands: skipping one while Redis answers others would leave its keys
   * trusted elsewhere.
   */
  invalidate(changes: readonly { table: string; keys: readonly CacheKey[]; l2: boolean }[]): void {
    if (this.#closed) return;
    if (this.#command.status !== 'ready' || this.#inFlight >= this.#options.maxInFlight) {
      this.#invalidationLost();
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
        if (results?.some(([error]) => error)) this.#invalidationLost();
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
    this.#lostSeq++;
    this.#sendBump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const done of [...this.#waiters]) done();
    this.#subscriber.disconnect();
    // A hung server never answers QUIT: wait at most one timeout, then drop the socket.
    await this.#timed(this.#command.quit()).catch(() => {});
    this.#command.disconnect();
  }

  #dirty(): boolean {
    return this.#bumpedSeq < this.#lostSeq;
  }

  #usable(): boolean {
    if (this.#closed || this.#command.status !== 'ready') return false;
    if (!this.#checkTrust(performance.now()) || this.#dirty()) return false;
    if (this.#inFlight >= this.#options.maxInFlight) return false;
    if (this.#downUntil !== 0) {
      // A fresh echo shows Redis answers again; the pause only spares it a burst of reads.
      if (performance.now() < this.#downUntil) return false;
      this.#downUntil = 0;
    }
    return true;
  }

  #checkTrust(now: number): boolean {
    if (this.#trusted && now >= this.#trustedUntil) this.#doubt();
    return this.#trusted;
  }

  /** Messages may have been missed, or may yet be: drop L1 until an echo vouches for the channel again. */
  #doubt(): void {
    if (!this.#trusted) return;
    this.#trusted = false;
    this.#answeringSince = undefined;
    this.counters.resyncs++;
    if (!this.#closed) this.#events.onResync();
  }

  #reported: RedisTierState | undefined;

  #tick(): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#checkTrust(now);
    const state = this.state;
    if (state !== this.#reported) {
      this.#reported = state;
      this.#events.onState?.(state, this.#lastError);
    }
    if (this.#command.status !== 'ready') return;
    this.#sendBump();
    if (this.#subscribed && this.#pings.size < MAX_PINGS_IN_FLIGHT) {
      const seq = ++this.#pingSeq;
      this.#pings.set(seq, now);
      this.counters.keepalives++;
      this.#command.publish(this.#channel, `${PING}${this.#options.instanceId}|${seq}`).catch(() => this.#pings.delete(seq));
    }
  }

  #echo(seq: number): void {
    const sentAt = this.#pings.get(seq);
    if (sentAt === undefined) return;
    for (const pending of this.#pings.keys()) if (pending <= seq) this.#pings.delete(pending);
    const now = performance.now();
    this.counters.echoes++;
    this.#echoRttMs = now - sentAt;
    if (!this.#trusted) {
      // A server waking from a freeze reads its clients' buffered commands in no fixed order, so
      // the echo of a ping that waited in its buffer can come before another client's buffered
      // invalidations. Only a ping sent after the server was seen answering again proves those ran.
      this.#answeringSince ??= now;
      if (sentAt < this.#answeringSince) return;
    }
    this.#trustedUntil = Math.max(this.#trustedUntil, sentAt + this.#trustMs);
    if (!this.#trusted && this.#subscribed && now < this.#trustedUntil) {
      this.#trusted = true;
      for (const done of [...this.#waiters]) done();
    }
  }

  /**
   * One bump at a time. It retires every value stored before Redis runs it, so on a frozen server
   * the one bump on the socket covers every loss until the server wakes; losses after it was sent
   * get the next bump once it is answered. Not counted in flight: there is at most one.
   */
  #sendBump(): void {
    if (this.#closed || this.#bumpInFlight || this.#bumpSentSeq >= this.#lostSeq || this.#command.status !== 'ready') return;
    const seq = this.#lostSeq;
    const flush = this.#flushOthers;
    this.#flushOthers = false;
    this.#bumpSentSeq = seq;
    this.#bumpInFlight = true;
    const pipeline = this.#command.pipeline().incr(this.#epochKey);
    if (flush) pipeline.publish(this.#channel, JSON.stringify({ s: this.#options.instanceId, all: true }));
    pipeline
      .exec()
      .then((results) => {
        if (!results || results.some(([error]) => error)) throw new Error('epoch bump refused');
        this.counters.epochBumps++;
        if (seq > this.#bumpedSeq) this.#bumpedSeq = seq;
        this.#bumpInFlight = false;
        this.#sendBump();
      })
      .catch(() => {
        // Unknown whether it ran: count a new loss so another bump (and flush) follows, from the
        // timer: retrying here would spin on a connection whose close is not yet processed.
        this.#bumpInFlight = false;
        this.#lostSeq++;
        if (flush) this.#flushOthers = true;
      });
  }

  /** After a failed read or fill, reads skip Redis for a while (what Redis holds stays correct). */
  #open(): void {
    if (this.#closed) return;
    // Failures while already open must not push the pause back, or steady traffic would keep it away.
    if (this.#downUntil === 0) this.#downUntil = performance.now() + this.#options.retryMs;
  }

  #invalidationLost(): void {
    this.counters.invalidationFailures++;
    this.#flushOthers = true;
    this.#lostSeq++;
    this.#sendBump();
  }

  #connectionError(error: Error): void {
    this.#lastError = error.message;
    if (!this.#everReady && !this.#failedToConnect) {
      this.#failedToConnect = true;
      for (const done of [...this.#waiters]) done();
    }
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
        this.#tick();
      },
      () => {},
    );
  }

  #channelLost(): void {
    this.#subscribed = false;
    // Keepalives sent before the drop can no longer come back.
    this.#pings.clear();
    this.#doubt();
  }

  #receive(message: Buffer): void {
    if (message[0] === PING_BYTE) {
      const text = message.toString('latin1');
      const bar = text.lastIndexOf('|');
      if (text.slice(PING.length, bar) === this.#options.instanceId) this.#echo(Number(text.slice(bar + 1)));
      return;
    }
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
