import type { Redis } from 'ioredis';
import { SluiceError } from '../core/sluice-error.js';
import { flushAllMessage } from './redis-tier-codec.js';
import type { RedisTierCounters } from './redis-tier-types.js';

export interface EpochTarget {
  readonly command: Redis;
  readonly epochKey: string;
  readonly channel: string;
  readonly instanceId: string;
  readonly counters: Pick<RedisTierCounters, 'epochBumps'>;
  isClosed(): boolean;
}

/**
 * The database epoch, which every stored value carries: bumping it retires them all. Losses
 * (invalidations that may not have reached Redis, foreign commits) are counted; the tier is
 * "dirty" until a bump Redis acknowledged covers the last of them. One bump at a time: it retires
 * every value stored before Redis runs it, so on a frozen server the one bump on the socket
 * covers every loss until the server wakes; losses after it was sent get the next bump once it
 * is answered. It is written behind anything already on the socket, so a hung server runs it
 * before anything asked after it wakes.
 */
export class EpochBump {
  readonly #target: EpochTarget;
  /** Counts events that may have left stale values in Redis (lost invalidations, foreign commits). */
  #lostSeq = 0;
  /** The highest #lostSeq a sent epoch bump covers, and one Redis has acknowledged. */
  #sentSeq = 0;
  #bumpedSeq = 0;
  #inFlight = false;
  /** Our key invalidations may not have reached other instances: tell them to drop L1 with the bump. */
  #flushOthers = false;

  constructor(target: EpochTarget) {
    this.#target = target;
  }

  /** A loss no acknowledged bump covers yet: reads must skip Redis. */
  get dirty(): boolean {
    return this.#bumpedSeq < this.#lostSeq;
  }

  /** Something may have left stale values in Redis; with `flushOthers`, other instances' L1 too. Sends a bump when it can. */
  lost(flushOthers: boolean): void {
    if (flushOthers) this.#flushOthers = true;
    this.#lostSeq++;
    this.send();
  }

  /** Sends the bump the losses so far call for, unless one is in flight or the connection does not take commands. Not counted in flight: there is at most one. */
  send(): void {
    const { command, epochKey, channel, instanceId, counters } = this.#target;
    if (this.#target.isClosed() || this.#inFlight || this.#sentSeq >= this.#lostSeq || command.status !== 'ready') return;
    const seq = this.#lostSeq;
    const flush = this.#flushOthers;
    this.#flushOthers = false;
    this.#sentSeq = seq;
    this.#inFlight = true;
    const pipeline = command.pipeline().incr(epochKey);
    if (flush) pipeline.publish(channel, flushAllMessage(instanceId));
    pipeline
      .exec()
      .then((results) => {
        if (!results || results.some(([error]) => error)) throw new SluiceError('UNAVAILABLE', 'Redis refused the cache epoch bump');
        counters.epochBumps++;
        if (seq > this.#bumpedSeq) this.#bumpedSeq = seq;
        this.#inFlight = false;
        this.send();
      })
      .catch(() => {
        // Unknown whether it ran: count a new loss so another bump (and flush) follows, from the
        // timer: retrying here would spin on a connection whose close is not yet processed.
        this.#inFlight = false;
        this.#lostSeq++;
        if (flush) this.#flushOthers = true;
      });
  }
}
