import type { FastifyInstance } from 'fastify';
import { frame, historyFrame, MAX_FRAME_BYTES } from '../event-frames.js';
import type { ServerContext } from '../server-context.js';

/** The dashboard's feed: history once, counts once, then a snapshot every interval. */
export function registerEventsRoute(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['operations'];
  app.get(
    '/api/v1/events',
    { config: { read: true }, schema: { tags, summary: 'Server-sent events: a snapshot every interval' } },
    (request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(historyFrame(ctx.feed.history, 'retry: 2000\n'));
      void ctx.feed
        .counts()
        .then((tables) => {
          const text = frame('counts', tables);
          if (!res.writableEnded && text.length <= MAX_FRAME_BYTES) res.write(text);
        })
        .catch((error) => ctx.errors.record('counts', error));
      const unsubscribe = ctx.feed.subscribe((snapshot) => {
        // A viewer that stopped reading gets no more until it catches up: each snapshot is whole,
        // so skipping some loses nothing, and the server does not buffer frames for it.
        if (!res.writableEnded && res.writableLength < MAX_FRAME_BYTES * 4) res.write(snapshot);
      });
      const end = () => {
        unsubscribe();
        if (!res.writableEnded) res.end();
      };
      request.raw.once('close', end);
      ctx.streams.add(end);
      res.once('close', () => ctx.streams.delete(end));
    },
  );
}
