import type { AnyTableDef, ColumnDef } from '../../schema/define-table.js';

/**
 * PostgreSQL's COPY text format, written by SQLite itself from the rows it stores, so shipping a
 * batch costs no JavaScript per row or per value: one statement per synced table returns the
 * batch's lines as one blob, handed to the COPY stream as it is. PostgreSQL must read from it the
 * values it reads from the JavaScript encoders of the target's plan (postgres-sync-plan.ts), so
 * SQLite writes only what its own conversion writes exactly; a row holding anything else is
 * flagged `odd` and the batch is encoded in JavaScript instead:
 * - text, json: backslash, newline, carriage return and tab escaped; `\N` for NULL;
 * - integer: SQLite's decimal text (exact to 64 bits);
 * - real: SQLite's shortest round-trip text (3.43 and later; checked at start); infinities odd;
 * - boolean: stored 0/1 as `t`/`f`;
 * - timestamp: epoch ms as `YYYY-MM-DD HH:MM:SS.sssZ` (UTC, milliseconds), for years 0000 to 9999
 *   (SQLite's date range); other years odd;
 * - blob: `\\x` and hex (PostgreSQL reads either case).
 */

/** Epoch ms of 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: SQLite's date range. */
const FIRST_MS = -62_167_219_200_000;
const LAST_MS = 253_402_300_799_999;
const TAB = '\t';
const NEWLINE = '\n';

/** A column's COPY field as SQL over `t`, and the condition under which SQLite cannot write it exactly. */
function field(column: ColumnDef): { sql: string; odd: string | undefined } {
  const c = `t."${column.sqlName}"`;
  let sql: string;
  let odd: string | undefined;
  switch (column.type) {
    case 'text':
    case 'json':
      // Four replaces cost less than any test for whether one is needed (GLOB, INSTR: measured).
      sql = `replace(replace(replace(replace(${c}, '\\', '\\\\'), char(10), '\\n'), char(13), '\\r'), char(9), '\\t')`;
      break;
    case 'integer':
      sql = c;
      break;
    case 'real':
      sql = c;
      odd = `abs(${c}) > 1.7976931348623157e308`;
      break;
    case 'boolean':
      sql = `case ${c} when 1 then 't' else 'f' end`;
      break;
    case 'timestamp':
      // PostgreSQL reads the space form as it reads the T form; strftime() costs three times datetime().
      sql = `datetime(${c} / 1000.0, 'unixepoch', 'subsec') || 'Z'`;
      odd = `${c} not between ${FIRST_MS} and ${LAST_MS}`;
      break;
    case 'blob':
      sql = `'\\\\x' || hex(${c})`;
      break;
  }
  if (column.nullable) {
    sql = `case when ${c} is null then '\\N' else ${sql} end`;
    if (odd !== undefined) odd = `(${c} is not null and ${odd})`;
  }
  return { sql, odd };
}

/**
 * One statement per synced table: the distinct keys of the outbox rows in (`seq > ?`, `seq <= ?`)
 * for the table (third parameter), joined to the table's current rows. It answers one row:
 * `copy`, the COPY text of the rows that exist (a blob; null when none); `upserts`, their count;
 * `deletes`, the outbox keys (JSON arrays, comma-separated) of the keys with no row; `odd`, 1
 * when a row holds a value only JavaScript encodes exactly.
 */
export function copyTextSql(table: AnyTableDef, outbox: string): string {
  const fields = table.columns.map(field);
  const line = `${fields.map((f) => f.sql).join(` || '${TAB}' || `)} || '${NEWLINE}'`;
  const odd = fields.flatMap((f) => (f.odd === undefined ? [] : [f.odd]));
  const found = `t."${(table.primaryKey[0] as ColumnDef).sqlName}"`;
  const match = table.primaryKey
    .map((c, i) => {
      const value = `json_extract(k.key_json, '$[${i}]')`;
      return `t."${c.sqlName}" = ${c.type === 'blob' ? `unhex(${value})` : value}`;
    })
    .join(' and ');
  return [
    `select cast(group_concat(case when ${found} is not null then ${line} end, '') as blob) as copy,`,
    `count(${found}) as upserts,`,
    `group_concat(case when ${found} is null then k.key_json end, ',') as deletes,`,
    `${odd.length === 0 ? '0' : `max(case when ${found} is not null and (${odd.join(' or ')}) then 1 else 0 end)`} as odd`,
    `from (select distinct key_json from ${outbox} where seq > ? and seq <= ? and error is null and table_name = ?) as k`,
    `left join "${table.name}" as t on ${match}`,
  ].join(' ');
}

/**
 * SQLite before 3.43 wrote reals with 15 significant digits, not the shortest text that reads back
 * the same double, and before 3.42 had no `subsec`; with such a library every batch is encoded in
 * JavaScript.
 */
export const EXACT_SQL = `select cast(0.30000000000000004 as text) = '0.30000000000000004' and datetime(-0.001, 'unixepoch', 'subsec') = '1969-12-31 23:59:59.999' as exact`;
