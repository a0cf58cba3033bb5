import type { JsRow, RowCodec } from '../schema/row-codec.js';

/**
 * The rows an upsert statement returned, decoded, by key. An upsert that keeps an existing row's
 * lease stores a row other than the one it was given, and its promise must resolve with what a
 * read would return.
 */
export function storedRows(codec: RowCodec, returned: readonly Record<string, unknown>[]): ReadonlyMap<string, JsRow> {
  const rows = new Map<string, JsRow>();
  for (const row of returned) rows.set(keyText(codec.keyOfRow(codec.decodeRow(row))), row);
  return rows;
}

/** What one insert or upsert resolves with: the stored row when the statement returned it, else the row it wrote. */
export function resolvedRow(
  codec: RowCodec,
  command: { readonly params: readonly unknown[]; readonly row: JsRow },
  stored: ReadonlyMap<string, JsRow> | undefined,
): JsRow {
  return stored?.get(keyText(codec.keyOfParams(command.params))) ?? command.row;
}

/** One string per key, equal for equal keys whichever way their values were produced (a caller's Uint8Array, a driver's Buffer). */
function keyText(key: readonly unknown[]): string {
  return key
    .map((value) => {
      if (value instanceof Uint8Array) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      if (value instanceof Date) return `d${value.getTime()}`;
      if (typeof value === 'bigint') return `n${value}`;
      return JSON.stringify(value);
    })
    .join('\u0000');
}
