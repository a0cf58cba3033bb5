import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { redisUrl } from './services.js';

let counter = 0;

/** A Redis key prefix of this file's own, whose keys are deleted when the file's tests end. */
export function redisPrefix(name: string, url = redisUrl): string {
  const prefix = `sluice-test:${name}:${process.pid}:${Date.now().toString(36)}:${counter++}:`;
  afterAll(async () => {
    await deleteKeys(url, prefix).catch(() => {});
  });
  return prefix;
}

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Waits until a database's cache is connected to Redis, subscribed, and trusts its channel. */
export async function redisListening(
  stats: () => { cache: { l2: { connected: boolean; listening: boolean; trusted: boolean } } },
  timeoutMs = 5000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const { l2 } = stats().cache;
    if (l2.connected && l2.listening && l2.trusted) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`The cache did not connect to Redis within ${timeoutMs} ms`);
}
