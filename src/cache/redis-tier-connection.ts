import { Redis } from 'ioredis';
import { SluiceError } from '../core/sluice-error.js';
import type { RedisTierOptions } from './redis-tier-types.js';

// Stores a loaded value only while neither its key's version nor the epoch has moved since the miss read them.
const FILL_SCRIPT = `
local version = redis.call('GET', KEYS[2]) or '0'
local epoch = redis.call('GET', KEYS[3]) or '0'
if version == ARGV[1] and epoch == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

/** The command connection, with the fill script defined on it. */
export type FillingRedis = Redis & {
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
 * One of the tier's two connections. Requests fail at once while disconnected instead of
 * queueing behind a dead link; reconnects come often enough that an instance back from an outage
 * bumps the epoch for the invalidations it could not send well within the bound. No
 * auto-pipelining: it holds each request back to the next loop turn, which measured 15-50 µs
 * slower per read here; requests in flight still share the connection back to back.
 */
function connect(options: RedisTierOptions, role: 'cmd' | 'sub'): Redis {
  const reconnectCapMs = Math.max(10, Math.min(1000, options.staleBoundMs / 4));
  return new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, options.timeoutMs * 4),
    retryStrategy: (times: number) => Math.min(10 * times, reconnectCapMs),
    lazyConnect: false,
    ...(role === 'sub' ? { autoResubscribe: false } : {}),
    connectionName: `${options.keyPrefix}${role}`,
  });
}

export function commandConnection(options: RedisTierOptions): FillingRedis {
  const redis = connect(options, 'cmd') as FillingRedis;
  redis.defineCommand('sluiceFill', { numberOfKeys: 3, lua: FILL_SCRIPT });
  return redis;
}

/** The subscriber resubscribes itself on ready, so ioredis must not. */
export function subscriberConnection(options: RedisTierOptions): Redis {
  return connect(options, 'sub');
}

/**
 * Requests to Redis counted until Redis actually answers (not until we stop waiting), so a hung
 * server fills the bound and further reads skip it.
 */
export class InFlightRequests {
  readonly #timeoutMs: number;
  #count = 0;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  get count(): number {
    return this.#count;
  }

  track<T>(promise: Promise<T>): Promise<T> {
    this.#count++;
    return promise.finally(() => {
      this.#count--;
    });
  }

  /** Tracked, and rejected after the timeout; the request stays counted until Redis answers. */
  timed<T>(promise: Promise<T>): Promise<T> {
    const tracked = this.track(promise);
    return new Promise<T>((resolve, reject) => {
      // Timers run before I/O in the event loop: after a long synchronous stretch the timer would
      // fire ahead of a reply that is already waiting, so the verdict waits one poll phase.
      const timer = setTimeout(
        () => setImmediate(() => reject(new SluiceError('UNAVAILABLE', `Redis did not answer within ${this.#timeoutMs} ms`))),
        this.#timeoutMs,
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
}
