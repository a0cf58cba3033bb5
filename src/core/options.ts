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
