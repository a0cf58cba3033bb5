import type { ColumnType } from '../schema/column-types.js';

/**
 * Turns the values SQLite stores into PostgreSQL COPY text fields directly, with no decode to
 * JavaScript objects in between: booleans are 0/1, timestamps epoch ms, JSON already text.
 */
export type CopyEncoder = (value: unknown) => string;

const SPECIAL = /[\\\n\r\t]/;

function escapeText(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

export const COPY_ENCODERS: Readonly<Record<ColumnType, CopyEncoder>> = {
  text: (v) => escapeText(v as string),
  integer: (v) => String(v),
  real: (v) => String(v),
  boolean: (v) => (v === 1 || v === true ? 't' : 'f'),
  json: (v) => escapeText(v as string),
  timestamp: (v) => new Date(v as number).toISOString(),
  // COPY text reads `\\x…` as the bytea hex form once its own backslash escape is undone.
  blob: (v) => `\\\\x${Buffer.from(v as Uint8Array).toString('hex')}`,
};

/** One row as a COPY text line: tab-separated fields, `\N` for NULL. */
export function copyLine(row: readonly unknown[], encoders: readonly CopyEncoder[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (i > 0) line += '\t';
    line += value === null || value === undefined ? '\\N' : (encoders[i] as CopyEncoder)(value);
  }
  return `${line}\n`;
}

/** A stored key value (from the outbox's JSON, blobs as hex) as node-postgres binds it. */
export function keyParam(type: ColumnType, value: unknown): unknown {
  switch (type) {
    case 'boolean':
      return value === 1 || value === true;
    case 'timestamp':
      return new Date(value as number);
    case 'blob':
      return Buffer.from(value as string, 'hex');
    default:
      return value;
  }
}
