import type { CacheKey } from './cache-key.js';
import type { Cached } from './l1-cache.js';

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

export function zeroCounters(): RedisTierCounters {
  return {
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
}
