import { deserialize, serialize } from 'node:v8';
import type { CacheKey } from './cache-key.js';
import { ABSENT, type Cached } from './l1-cache.js';
import type { FillToken, RemoteInvalidation } from './redis-tier-types.js';

// Keepalives are plain text so a receiver tells them from invalidations by the first byte.
const PING = 'p|';
const PING_BYTE = PING.charCodeAt(0);

/** What one channel message says: a keepalive of some instance, or another instance's invalidations. */
export type ChannelMessage =
  | { readonly kind: 'ping'; readonly instanceId: string; readonly seq: number }
  /** `list` is undefined for a message that names neither keys nor "all" (counted, then ignored). */
  | { readonly kind: 'invalidations'; readonly from: string | undefined; readonly list: readonly RemoteInvalidation[] | undefined }
  | { readonly kind: 'other' };

export function pingMessage(instanceId: string, seq: number): string {
  return `${PING}${instanceId}|${seq}`;
}

/** A commit's keys, for other instances to drop from their L1. */
export function invalidationMessage(instanceId: string, changes: readonly { table: string; keys: readonly CacheKey[] }[]): string {
  return JSON.stringify({ s: instanceId, c: changes.map((c) => ({ t: c.table, k: c.keys })) });
}

/** "Drop everything": sent with an epoch bump when our own invalidations may not have reached the others. */
export function flushAllMessage(instanceId: string): string {
  return JSON.stringify({ s: instanceId, all: true });
}

export function parseChannelMessage(message: Buffer): ChannelMessage {
  if (message[0] === PING_BYTE) {
    const text = message.toString('latin1');
    const bar = text.lastIndexOf('|');
    return { kind: 'ping', instanceId: text.slice(PING.length, bar), seq: Number(text.slice(bar + 1)) };
  }
  let parsed: { s?: string; all?: boolean; c?: { t: string; k: CacheKey[] }[] };
  try {
    parsed = JSON.parse(message.toString());
  } catch {
    return { kind: 'other' };
  }
  if (parsed.all) return { kind: 'invalidations', from: parsed.s, list: [{ all: true }] };
  if (!Array.isArray(parsed.c)) return { kind: 'invalidations', from: parsed.s, list: undefined };
  return {
    kind: 'invalidations',
    from: parsed.s,
    list: parsed.c.map((c) => ({ table: String(c.t), keys: c.k.filter((k) => typeof k === 'string' || typeof k === 'number') })),
  };
}

// A value is `version:epoch:` then 'a' (no such row) or 'r' and the row, v8-serialised so Dates
// and binary columns come back as they went in.
export function encodeValue<V>(value: Cached<V>, token: FillToken): Buffer {
  const header = Buffer.from(`${token.version}:${token.epoch}:${value === ABSENT ? 'a' : 'r'}`);
  return value === ABSENT ? header : Buffer.concat([header, serialize(value)]);
}

export function decodeValue<V>(stored: Buffer): { version: string; epoch: string; value: Cached<V> } | undefined {
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
