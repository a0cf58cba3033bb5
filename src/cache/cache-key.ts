/** A row's key in the cache: the encoded value itself for a one-column text or number key. */
export type CacheKey = string | number;

/**
 * One value per primary key, built from the driver-encoded key values (RowCodec.encodeKey and
 * the change feed produce the same encoding), so a caller's key and a committed key meet.
 */
export function cacheKey(encoded: readonly unknown[]): CacheKey {
  if (encoded.length === 1) {
    const value = encoded[0];
    // A column has one type, so a number key and a string key of one table never meet.
    if (typeof value === 'string' || typeof value === 'number') return value;
  }
  return JSON.stringify(encoded, encodedValue);
}

/** A normalised query: checked filter and order, with columns by name and values encoded. */
export function queryKey(parts: unknown): string {
  return JSON.stringify(parts, encodedValue);
}

function encodedValue(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (value !== null && typeof value === 'object' && 'sqlName' in value && 'name' in value) return (value as { name: string }).name;
  return value;
}
