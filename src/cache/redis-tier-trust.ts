import type { RedisTierCounters } from './redis-tier-types.js';

// Keepalives unanswered at once: a hung server must not collect an endless queue of them.
const MAX_PINGS_IN_FLIGHT = 3;

export interface ChannelTrustHooks {
  /** Trust was lost: messages may have been missed, so L1 must go. */
  onDoubt(): void;
  /** Trust was earned (again). */
  onTrusted(): void;
}

/**
 * Whether the invalidation channel is shown to deliver. Trust is earned, never assumed: a
 * keepalive published on the channel must come back to this instance within `trustMs`. Redis
 * hands out channel messages in the order it runs commands, so an echo proves every invalidation
 * Redis ran before the keepalive has reached us. Without a recent echo (not yet connected, down,
 * hung) the tier is not read; losing trust drops L1. Time is `performance.now()` throughout.
 */
export class ChannelTrust {
  readonly #trustMs: number;
  readonly #counters: Pick<RedisTierCounters, 'resyncs' | 'keepalives' | 'echoes'>;
  readonly #hooks: ChannelTrustHooks;
  #trusted = false;
  #trustedUntil = 0;
  /** When, since trust was last lost, an echo first showed the server answering; undefined until then. */
  #answeringSince: number | undefined;
  #pingSeq = 0;
  /** Keepalive sequence → when it was sent. */
  readonly #pings = new Map<number, number>();
  #echoRttMs: number | undefined;

  constructor(trustMs: number, counters: Pick<RedisTierCounters, 'resyncs' | 'keepalives' | 'echoes'>, hooks: ChannelTrustHooks) {
    this.#trustMs = trustMs;
    this.#counters = counters;
    this.#hooks = hooks;
  }

  /** The flag as it stands, without looking at the clock. */
  get held(): boolean {
    return this.#trusted;
  }

  /** Round trip of the last keepalive that came back, in ms. */
  get echoRttMs(): number | undefined {
    return this.#echoRttMs;
  }

  /** Trusted at `now`: a lapsed echo drops trust here, before anything is served on its word. */
  check(now: number): boolean {
    if (this.#trusted && now >= this.#trustedUntil) this.doubt();
    return this.#trusted;
  }

  /** Messages may have been missed, or may yet be: drop L1 until an echo vouches for the channel again. */
  doubt(): void {
    if (!this.#trusted) return;
    this.#trusted = false;
    this.#answeringSince = undefined;
    this.#counters.resyncs++;
    this.#hooks.onDoubt();
  }

  /** The sequence number of a keepalive to publish now, or undefined while too many are unanswered. */
  nextPing(now: number): number | undefined {
    if (this.#pings.size >= MAX_PINGS_IN_FLIGHT) return undefined;
    const seq = ++this.#pingSeq;
    this.#pings.set(seq, now);
    this.#counters.keepalives++;
    return seq;
  }

  /** The keepalive was never published: it cannot come back. */
  pingFailed(seq: number): void {
    this.#pings.delete(seq);
  }

  /** Our keepalive `seq` came back; `subscribed` says whether we are still on the channel. */
  echo(seq: number, subscribed: boolean): void {
    const sentAt = this.#pings.get(seq);
    if (sentAt === undefined) return;
    for (const pending of this.#pings.keys()) if (pending <= seq) this.#pings.delete(pending);
    const now = performance.now();
    this.#counters.echoes++;
    this.#echoRttMs = now - sentAt;
    if (!this.#trusted) {
      // A server waking from a freeze reads its clients' buffered commands in no fixed order, so
      // the echo of a ping that waited in its buffer can come before another client's buffered
      // invalidations. Only a ping sent after the server was seen answering again proves those ran.
      this.#answeringSince ??= now;
      if (sentAt < this.#answeringSince) return;
    }
    this.#trustedUntil = Math.max(this.#trustedUntil, sentAt + this.#trustMs);
    if (!this.#trusted && subscribed && now < this.#trustedUntil) {
      this.#trusted = true;
      this.#hooks.onTrusted();
    }
  }

  /** The subscription dropped: keepalives sent before it can no longer come back. */
  channelLost(): void {
    this.#pings.clear();
    this.doubt();
  }
}
