/**
 * Values that a database would store changed are refused before they are queued: a resolved
 * write returns what a later read returns, on every dialect. Each check answers with the reason
 * a value is refused, or undefined when it is fine.
 */

/** PostgreSQL's timestamptz starts at 4713 BC; SQLite would take earlier ones, so both refuse them. */
const EARLIEST_TIMESTAMP_MS = Date.UTC(-4712, 0, 1);

interface WellFormed {
  isWellFormed?: () => boolean;
}

/** A lone UTF-16 surrogate cannot be encoded as UTF-8: drivers replace it, and two keys become one. */
export function textProblem(value: string): string | undefined {
  const native = (value as unknown as WellFormed).isWellFormed;
  const wellFormed = native ? native.call(value) : !LONE_SURROGATE.test(value);
  if (wellFormed) return undefined;
  const at = value.search(LONE_SURROGATE);
  return `holds a lone UTF-16 surrogate at index ${at} (\\u${value.charCodeAt(at).toString(16).toUpperCase()}), which no database can store unchanged; pass well-formed text (String.prototype.toWellFormed() replaces it)`;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function timestampProblem(ms: number): string | undefined {
  if (Number.isNaN(ms)) return 'is outside the range a Date can hold (±8.64e15 ms around 1970)';
  if (ms < EARLIEST_TIMESTAMP_MS) return 'is before 4713 BC, the earliest timestamp PostgreSQL stores';
  return undefined;
}

/**
 * JSON columns hold plain data only: what JSON.stringify would drop or alter (NaN, ±Infinity,
 * -0, undefined, functions, symbols, BigInt, Map, Set, Date, class instances, cycles) is refused,
 * with the path to the offending part.
 */
export function jsonProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'boolean':
      return undefined;
    case 'string':
      return textProblem(value);
    default:
      return walk(value, [], []);
  }
}

const MAX_JSON_DEPTH = 200;

/** `.a[3].b`: built only for a refused value, so a good one costs no strings. */
function pathOf(path: readonly (string | number)[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('');
}

/** `ancestors` holds the objects above `value` (a cycle); `path` the keys down to it. */
function walk(value: unknown, ancestors: object[], path: (string | number)[]): string | undefined {
  const at = () => (path.length === 0 ? '' : ` at ${pathOf(path)}`);
  switch (typeof value) {
    case 'string': {
      const text = textProblem(value);
      return text && (path.length === 0 ? text : `has a string${at()} that ${text}`);
    }
    case 'boolean':
      return undefined;
    case 'number':
      if (!Number.isFinite(value)) return `holds ${String(value)}${at()}, which JSON cannot represent`;
      if (Object.is(value, -0)) return `holds -0${at()}, which JSON stores as 0`;
      return undefined;
    case 'object': {
      if (value === null) return undefined;
      if (ancestors.length > MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels${at()}`;
      if (ancestors.includes(value)) return `refers to itself${at()}`;
      ancestors.push(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            if (!(i in value)) return `has a hole at ${pathOf(path)}[${i}], which JSON stores as null`;
            path.push(i);
            const problem = walk(value[i], ancestors, path);
            path.pop();
            if (problem) return problem;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as object).constructor?.name ?? 'object';
          return `holds a ${kind}${at()}, which JSON does not store as it is; convert it to plain data (an array, an object, an ISO string)`;
        }
        for (const key of Object.keys(value)) {
          const child = (value as Record<string, unknown>)[key];
          path.push(key);
          const problem =
            child === undefined
              ? `has undefined at ${pathOf(path)}, which JSON drops; leave the key out or use null`
              : textProblem(key) !== undefined
                ? `has a key at ${pathOf(path)} that ${textProblem(key)}`
                : walk(child, ancestors, path);
          path.pop();
          if (problem) return problem;
        }
        return undefined;
      } finally {
        ancestors.pop();
      }
    }
    default:
      return `holds ${typeof value === 'bigint' ? 'a BigInt' : `a ${typeof value}`}${at()}, which JSON cannot store`;
  }
}
