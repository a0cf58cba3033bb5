import { didYouMean } from './did-you-mean.js';
import { describeValue, SluiceError } from './sluice-error.js';

/**
 * Every call's options are checked strictly, as open()'s are: a misspelt option is a VALIDATION
 * error with a "did you mean", never silently ignored (an ignored `whre` would read the whole
 * table; an ignored `tokn` would settle without the fencing check).
 */
export function checkOptionKeys(call: string, table: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new SluiceError('VALIDATION', `${call} on ${table}: options must be an object, got ${describeValue(options)}.`, {
      table,
      value: options,
    });
  }
  for (const key in options) {
    if (!known.includes(key)) {
      throw new SluiceError(
        'VALIDATION',
        `${call} on ${table}: unknown option "${key}"${didYouMean(key, known)} Known options: ${known.join(', ')}. Nothing was done.`,
        { table, value: key },
      );
    }
  }
}

export type Returning = 'row' | 'none';

/**
 * What an update or a transition resolves with: nothing beyond "it committed" (`none`, the
 * default), or the row as stored (`row`). Reading the row back (RETURNING) costs SQLite about as
 * much as the update (bench/sqlite-update-shapes.ts: 64-row runs at 0.48–0.78M rows/s returning
 * rows, 1.2–1.66M returning nothing), and a status change's caller rarely looks at it, so the
 * row is there when asked for.
 */
export function returningOption(call: string, table: string, value: unknown): Returning {
  if (value === undefined || value === 'none') return 'none';
  if (value === 'row') return 'row';
  throw new SluiceError(
    'VALIDATION',
    `${call} on ${table}: returning must be 'row' or 'none', got ${describeValue(value)}. Nothing was done.`,
    {
      table,
      value,
    },
  );
}
