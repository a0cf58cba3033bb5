import { sql } from 'kysely';
import type { ListParameters } from '../../query/filter-compiler.js';

/**
 * `$in` / `$nin` lists bound as one JSON array text and read back with json_each, so a list of
 * any length is one parameter (SQLite refuses more than 32,766 by default). The values are
 * already in storage form (integers for booleans and timestamps), which JSON carries exactly;
 * a bigint is written as its digits, which json_each reads back as a 64-bit integer.
 */
export const SQLITE_LISTS: ListParameters = {
  membership: (column, _def, parameter, negate) =>
    negate
      ? sql<boolean>`${column} not in (select value from json_each(${parameter}))`
      : sql<boolean>`${column} in (select value from json_each(${parameter}))`,
  parameter: (_def, values) => `[${values.map((v) => (typeof v === 'bigint' ? v.toString() : JSON.stringify(v))).join(',')}]`,
};
