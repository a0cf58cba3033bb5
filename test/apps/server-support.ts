import { connect } from 'node:net';
import { defineTable } from '../../src/index.js';

/** A leased lifecycle with history: every lifecycle route has something to do. */
export const jobs = defineTable('jobs', {
  columns: { id: 'text', status: 'text', size: { type: 'integer', default: 0 }, at: 'timestamp?' },
  primaryKey: 'id',
  indexes: [['status']],
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'failed', 'pending'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending' },
  },
});

export const TOKEN = 'test-write-token-123';
export const READ_TOKEN = 'test-read-token-456';
export const WRITE = { authorization: `Bearer ${TOKEN}` };

/** A path segment for a key: one value as text, a composite key as a JSON array. */
export function keyPath(key: unknown): string {
  return encodeURIComponent(Array.isArray(key) ? JSON.stringify(key) : String(key));
}

/** One server-sent event as the stream carried it: its name, its data, and its size on the wire. */
export interface StreamedEvent {
  event: string;
  data: string;
  bytes: number;
}

/**
 * Follows `/api/v1/events` (or any event stream) and keeps every frame; `next(name)` waits for
 * the next frame of that name that arrives after the call.
 */
export async function followEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
  const frames: StreamedEvent[] = [];
  const waiters: { name: string; from: number; resolve: (e: StreamedEvent) => void }[] = [];
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const pump = (async () => {
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('');
        frames.push({ event, data, bytes: Buffer.byteLength(`${block}\n\n`) });
        for (const w of [...waiters]) {
          if (w.name === event && frames.length > w.from) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(frames[frames.length - 1]!);
          }
        }
      }
    }
  })();
  return {
    frames,
    next(name: string, timeoutMs = 10_000): Promise<StreamedEvent> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          name,
          from: frames.length,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    async close(): Promise<void> {
      controller.abort();
      await pump;
    },
  };
}

/** Sends `request` as raw bytes and resolves with the status, headers and body the server wrote before closing. */
export function rawRequest(port: number, request: string | Buffer): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), headers: head, body: split === -1 ? '' : text.slice(split + 4) });
    });
    socket.write(request);
  });
}
