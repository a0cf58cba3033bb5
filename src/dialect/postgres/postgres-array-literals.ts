import type { ColumnType } from '../../schema/column-types.js';

/*
 * One column of a multi-row insert as a PostgreSQL array literal (`{"a","b",NULL}`), written here
 * rather than by the driver. The driver would turn each JavaScript array into the same text, but
 * generically: every element through its value-preparation step, two regular expressions per
 * string, and timestamps formatted field by field in local time. Here each column's type is known
 * in advance, so each element takes the shortest path for its type. The literal is bound as a text
 * parameter and the statement's cast (`$1::text[]`, `$2::timestamptz[]`, …) parses it, as before.
 *
 * Input values are what postgresCodec encodes (checked by the row codec first): strings for text
 * and json, numbers for integer and real, booleans, Dates, Buffers; null or undefined is NULL.
 */

type Element = (value: unknown) => string;

const NEEDS_ESCAPE = /["\\]/;

/** A quoted element: double quotes and backslashes escaped with a backslash. */
function quoted(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  return `"${(text.includes('\\') ? text.replaceAll('\\', '\\\\') : text).replaceAll('"', '\\"')}"`;
}

const DAY_MS = 86_400_000;
/** 0001-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z: the years toISOString() writes in four digits. */
const FIRST_FOUR_DIGIT_YEAR_MS = -62_135_596_800_000;
const FIRST_FIVE_DIGIT_YEAR_MS = 253_402_300_800_000;
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * Timestamps as ISO 8601 in UTC (`2025-01-15T08:30:00.123Z`), which timestamptz reads exactly.
 * The date part of the last day seen is kept: rows of one batch mostly fall on the same day.
 */
class TimestampText {
  #day = Number.NaN;
  #dayText = '';

  format(date: Date): string {
    const ms = date.getTime();
    if (ms < FIRST_FOUR_DIGIT_YEAR_MS || ms >= FIRST_FIVE_DIGIT_YEAR_MS) return farTimestamp(date);
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayText = new Date(day * DAY_MS).toISOString().slice(0, 11);
    }
    let rest = ms - day * DAY_MS;
    const hours = Math.floor(rest / 3_600_000);
    rest -= hours * 3_600_000;
    const minutes = Math.floor(rest / 60_000);
    rest -= minutes * 60_000;
    const seconds = Math.floor(rest / 1000);
    rest -= seconds * 1000;
    return `${this.#dayText}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest]}Z`;
  }
}

/** Years before 1 AD (written `… BC`, PostgreSQL's form) and after 9999, quoted for the space. */
function farTimestamp(date: Date): string {
  let year = date.getUTCFullYear();
  const bc = year < 1;
  if (bc) year = 1 - year;
  const time = `${TWO_DIGITS[date.getUTCHours()]}:${TWO_DIGITS[date.getUTCMinutes()]}:${TWO_DIGITS[date.getUTCSeconds()]}.${THREE_DIGITS[date.getUTCMilliseconds()]}`;
  return `"${String(year).padStart(4, '0')}-${TWO_DIGITS[date.getUTCMonth() + 1]}-${TWO_DIGITS[date.getUTCDate()]}T${time}Z${bc ? ' BC' : ''}"`;
}

function elementOf(type: ColumnType): Element {
  switch (type) {
    case 'text':
      return (value) => quoted(value as string);
    case 'json':
      // JSON text (JSON.stringify's output) holds no control characters and no lone surrogates,
      // so quoting it as a JSON string escapes exactly the double quotes and backslashes, natively.
      return (value) => JSON.stringify(value as string);
    case 'integer':
    case 'real':
      return (value) => String(value);
    case 'boolean':
      return (value) => (value ? 'true' : 'false');
    case 'timestamp': {
      const text = new TimestampText();
      return (value) => text.format(value as Date);
    }
    case 'blob':
      // `\x…` is bytea's hex form; the backslash is escaped inside the quoted element.
      return (value) => `"\\\\x${(value as Buffer).toString('hex')}"`;
  }
}

/** Writes the array literals of one table's columns, one per column, from rows of encoded values. */
export class ArrayLiterals {
  readonly #elements: readonly Element[];

  constructor(types: readonly ColumnType[]) {
    this.#elements = types.map(elementOf);
  }

  columns(rows: readonly (readonly unknown[])[]): string[] {
    const literals = new Array<string>(this.#elements.length);
    for (let c = 0; c < this.#elements.length; c++) {
      const element = this.#elements[c] as Element;
      let text = '{';
      for (let r = 0; r < rows.length; r++) {
        const value = (rows[r] as readonly unknown[])[c];
        if (r > 0) text += ',';
        text += value === null || value === undefined ? 'NULL' : element(value);
      }
      literals[c] = `${text}}`;
    }
    return literals;
  }
}
