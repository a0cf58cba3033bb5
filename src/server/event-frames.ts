import { truncate } from './http-errors.js';

/**
 * The largest server-sent event the feed writes. A frame is encoded once and written to every
 * viewer, so its size times the viewers is what the feed costs; whatever a request or an error
 * put into it, a frame stays under this.
 */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Strings deeper in a status object (a sync refusal's message) are cut to this. */
const MAX_STRING_CHARS = 500;

/** `event: <name>\ndata: <json>\n\n`; JSON text has no raw newlines, so one data line is enough. */
export function frame(event: string, data: unknown, prefix = ''): string {
  return `${prefix}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The snapshot as one frame under MAX_FRAME_BYTES: the oldest of the last errors dropped first,
 * then the row counts; undefined when even that does not fit (thousands of tables), and the
 * viewer keeps what it has until the next one.
 */
export function snapshotFrame(snapshot: { errors: readonly unknown[]; tables: object; sync?: unknown }): string | undefined {
  let text = frame('snapshot', snapshot);
  if (byteLength(text) <= MAX_FRAME_BYTES) return text;
  const trimmed = { ...snapshot };
  while (byteLength(text) > MAX_FRAME_BYTES && trimmed.errors.length > 0) {
    trimmed.errors = trimmed.errors.slice(0, Math.floor(trimmed.errors.length / 2));
    text = frame('snapshot', trimmed);
  }
  if (byteLength(text) > MAX_FRAME_BYTES) {
    trimmed.tables = {};
    text = frame('snapshot', trimmed);
  }
  return byteLength(text) <= MAX_FRAME_BYTES ? text : undefined;
}

/** The chart history as one frame under MAX_FRAME_BYTES: the newest points that fit. */
export function historyFrame(points: readonly unknown[], prefix: string): string {
  let kept = points;
  let text = frame('history', kept, prefix);
  while (byteLength(text) > MAX_FRAME_BYTES && kept.length > 0) {
    kept = kept.slice(Math.ceil(kept.length / 4));
    text = frame('history', kept, prefix);
  }
  return text;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** A copy with every string cut to MAX_STRING_CHARS and nesting stopped at a few levels (a status object from elsewhere). */
export function cutStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return truncate(value, MAX_STRING_CHARS);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 6) return '…';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => cutStrings(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = cutStrings(v, depth + 1);
  return out;
}
