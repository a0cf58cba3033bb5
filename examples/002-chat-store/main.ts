/**
 * Seed 002: a chat bot's data module (30 models, filter-dict CRUD, a two-level cache, a batch
 * scheduler, a @cached decorator, slow-operation warnings). Here: four hot models on Sluice, the
 * seed's db_query/db_save/db_get kept as thin functions, the bot's per-message work as a load.
 */
import { join } from 'node:path';
import { type Database, open, type SluiceLogger } from 'sluice';
import { type ExampleOptions, type ExampleReport, exampleDir, ms, redisUrl } from '../support.js';
import { db_get, db_query, db_save } from './compat.js';
import { chatStreams, emoji, messages, personInfo } from './models.js';

const STREAMS = 50;
const USERS = 500;

/**
 * The seed's @cached(key_func, ttl) for a derived value: a stream's context (its last messages
 * and what the bot thinks of each speaker). The seed cached recent messages for 120 s with no
 * invalidation; here they may lag 2 s (graced while a rebuild runs), and an impression change
 * drops every context at once (dependsOn), in this process and over Redis in the others.
 */
function streamContext(db: Database, streamId: string): Promise<string[]> {
  return db.cache.getOrSet(
    `context:${streamId}`,
    async () => {
      const recent = (await db_get(db, 'Messages', { filters: { chatId: streamId }, order_by: '-time', limit: 20 })) as {
        text: string;
        userId: string;
      }[];
      const people = await Promise.all([...new Set(recent.map((m) => m.userId))].map((id) => db.table(personInfo).get(id)));
      return [...recent.map((m) => m.text), ...people.map((p) => `${p?.nickname}: ${p?.impression ?? 'new'}`)];
    },
    { ttlMs: 2000, graceMs: 10_000, dependsOn: [personInfo] },
  );
}

export async function run(options: ExampleOptions): Promise<ExampleReport> {
  const dir = exampleDir(options, '002');
  const slowLines: unknown[] = [];
  // The seed logged operations over 1 s; Sluice's logger does it (a recording logger here, pino in an app).
  const logger: SluiceLogger = {
    error: () => {},
    warn: (fields) => void (String(fields.event).startsWith('slow') && slowLines.push(fields)),
    info: () => {},
    debug: () => {},
  };
  const db = await open({
    url: `sqlite:${join(dir, 'bot.db')}`,
    tables: [chatStreams, messages, personInfo, emoji],
    cache: { redisUrl: redisUrl(options), keyPrefix: `sluice-example-002-${process.pid}:`, staleBoundMs: 1000 },
    logger,
    slowMs: 1000,
  });
  await db.migrate();
  for (let s = 0; s < STREAMS; s++)
    await db_save(db, 'ChatStreams', { streamId: `s${s}`, platform: 'qq', title: `group ${s}`, lastActiveTime: 0 });
  await Promise.all(
    Array.from({ length: USERS }, (_, u) =>
      db_query(db, 'PersonInfo', {
        query_type: 'create',
        data: { userId: `u${u}`, nickname: `user ${u}`, impression: null, knowSince: Date.now() / 1000 },
      }),
    ),
  );
  await Promise.all(
    Array.from({ length: 100 }, (_, e) => db.table(emoji).insert({ emojiHash: `e${e}`, description: `emoji ${e}`, usageCount: 0 })),
  );
  await db.warm(personInfo);

  const reads: number[] = [];
  const timed = async <T>(read: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const value = await read();
    reads.push(performance.now() - started);
    return value;
  };
  const until = Date.now() + options.seconds * 1000;
  let written = 0;
  let n = 0;
  const touched = new Map<string, number>();
  // The bot: per incoming message, read the stream, the sender, maybe an emoji; reply to one in
  // four (building the context); save the message; mark the stream active at most once a second
  // (low priority: the seed's batched update_chat_stream_active_time); now and then revise an impression.
  const bot = async (lane: number) => {
    while (Date.now() < until) {
      const i = n++;
      const streamId = `s${(i * 7 + lane) % STREAMS}`;
      const userId = `u${(i * 13) % USERS}`;
      await timed(() => db.table(chatStreams).get(streamId));
      await timed(() => db.table(personInfo).get(userId));
      if (i % 5 === 0) await timed(() => db.table(emoji).get(`e${i % 100}`));
      if (i % 4 === 0) await timed(() => streamContext(db, streamId));
      const writes: Promise<unknown>[] = [
        db.table(messages).insert({ messageId: `m${i}`, chatId: streamId, userId, time: Date.now() / 1000, text: `message ${i}` }),
      ];
      if ((touched.get(streamId) ?? 0) < Date.now() - 1000) {
        touched.set(streamId, Date.now());
        writes.push(db.table(chatStreams).update(streamId, { lastActiveTime: Date.now() / 1000 }, { priority: 'low' }));
      }
      if (i % 100 === 0) writes.push(db_save(db, 'PersonInfo', { impression: `talked at ${i}` }, userId));
      await Promise.all(writes);
      written += writes.length;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 32 }, (_, lane) => bot(lane)));
  const seconds = (performance.now() - started) / 1000;
  await db.flush();

  const stats = db.stats();
  const cache = stats.cache;
  // A lookup is answered by L1, L2 (behind an L1 miss) or the database; a derived value by its cache or its loader.
  const hits = cache.l1.hits + cache.l2.hits + cache.derived.hits;
  const lookups = cache.l1.hits + cache.l1.misses + cache.derived.hits + cache.derived.misses;
  const batchSizes = (await db.metrics.getSingleMetric('sluice_batch_size')?.get())?.values ?? [];
  const singleBatches = batchSizes.find((v) => v.labels.le === 1)?.value ?? 0;
  const writes = stats.ops.ok + stats.ops.failed;
  reads.sort((a, b) => a - b);
  const figures = {
    readP95Ms: ms(reads[Math.floor(reads.length * 0.95)] ?? 0),
    reads: reads.length,
    hitRatio: Math.round((hits / Math.max(1, lookups)) * 1000) / 1000,
    writesPerSecond: Math.round(written / seconds),
    writesBatched: Math.round((1 - singleBatches / Math.max(1, writes)) * 1000) / 1000,
    meanBatch: stats.batches.meanSize,
    slowOperationsLogged: slowLines.length,
    messagesStored: (await db_query(db, 'Messages', { query_type: 'count' })) as number,
  };
  await db.close();
  const met = figures.readP95Ms < 15 && figures.hitRatio > 0.8 && figures.writesPerSecond >= 500 && figures.writesBatched >= 0.8;
  return {
    example: '002-chat-store',
    seconds: options.seconds,
    figures,
    promised: { readP95Ms: '< 15', hitRatio: '> 0.80', writesPerSecond: '>= 500', writesBatched: '>= 0.80' },
    met,
  };
}
