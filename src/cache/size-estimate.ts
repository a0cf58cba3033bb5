/** A cheap estimate of a cached value's heap bytes, for the L1 byte bound (not an exact count). */
export function estimateBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'bigint':
      return 16;
    case 'object': {
      if (value === null) return 8;
      if (value instanceof Date) return 48;
      if (value instanceof Uint8Array) return 64 + value.byteLength;
      if (depth > 8) return 64;
      let bytes = 32;
      if (Array.isArray(value)) for (const item of value) bytes += 8 + estimateBytes(item, depth + 1);
      else {
        // A row is mostly strings and numbers: those are costed here, without a call each.
        for (const key in value) {
          const inner = (value as Record<string, unknown>)[key];
          bytes +=
            8 +
            key.length * 2 +
            (typeof inner === 'string' ? 16 + inner.length * 2 : typeof inner === 'number' ? 8 : estimateBytes(inner, depth + 1));
        }
      }
      return bytes;
    }
    default:
      return 16;
  }
}
