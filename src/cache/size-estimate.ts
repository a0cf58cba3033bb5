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
      else for (const key in value) bytes += 8 + key.length * 2 + estimateBytes((value as Record<string, unknown>)[key], depth + 1);
      return bytes;
    }
    default:
      return 16;
  }
}
