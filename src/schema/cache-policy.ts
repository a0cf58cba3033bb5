import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';

/** A table's cache policy, given to defineTable({ cache }). */
export interface TableCachePolicy {
  /** How long a row (or a query result) may be served from the cache. Required. */
  readonly ttlMs: number;
  /** Most rows kept in this process (L1). Required: an unbounded cache is refused. */
  readonly maxEntries: number;
  /** Most bytes (estimated) kept in L1 for this table. Default 64 MiB. */
  readonly maxBytes: number;
  /** Also keep rows in the shared Redis tier (needs open({ cache: { redisUrl } })). Default false. */
  readonly l2: boolean;
  /** How long "no such row" is remembered. Default: ttlMs; 0 disables negative caching. */
  readonly negativeTtlMs: number;
  /** Cache find/count results for every call, not only calls with { cache: true }. Default false. */
  readonly queries: boolean;
}

export type TableCachePolicyInput = {
  ttlMs: number;
  maxEntries: number;
  maxBytes?: number;
  l2?: boolean;
  negativeTtlMs?: number;
  queries?: boolean;
};

const POLICY_KEYS = ['ttlMs', 'maxEntries', 'maxBytes', 'l2', 'negativeTtlMs', 'queries'];
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** Checks a table's cache option: unknown names, then types, then that the cache is bounded. */
export function resolveTablePolicy(table: string, input: unknown): TableCachePolicy {
  const fail = (message: string, value?: unknown): never => {
    throw new SluiceError('CONFIG', `Table ${table}: cache ${message}`, { table, value });
  };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail(`must be an object such as { ttlMs: 60_000, maxEntries: 10_000 }, got ${describeValue(input)}.`, input);
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!POLICY_KEYS.includes(key)) {
      fail(`has unknown option "${key}"${didYouMean(key, POLICY_KEYS)}.`, key);
    }
  }
  const whole = (name: string, min: number, required: boolean): number | undefined => {
    const value = given[name];
    if (value === undefined) {
      if (required) fail(`needs ${name}: an unbounded or never-expiring cache is refused. Pass a whole number >= ${min}.`);
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      fail(`${name} must be a whole number >= ${min}, got ${describeValue(value)}.`, value);
    }
    return value as number;
  };
  const flag = (name: string): boolean => {
    const value = given[name];
    if (value !== undefined && typeof value !== 'boolean') fail(`${name} must be true or false, got ${describeValue(value)}.`, value);
    return value === true;
  };
  const ttlMs = whole('ttlMs', 1, true) as number;
  const maxEntries = whole('maxEntries', 1, true) as number;
  const maxBytes = whole('maxBytes', 1024, false) ?? DEFAULT_MAX_BYTES;
  const negativeTtlMs = whole('negativeTtlMs', 0, false) ?? ttlMs;
  return Object.freeze({ ttlMs, maxEntries, maxBytes, l2: flag('l2'), negativeTtlMs, queries: flag('queries') });
}
