import { createHash } from 'node:crypto';

/**
 * A stable digest of a task's type and input: object keys are sorted, so `{a, b}` and `{b, a}`
 * are the same work.
 */
export function fingerprint(type: string, input: unknown): string {
  return createHash('sha256').update(type).update('\u0000').update(canonicalJson(input)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value);
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
