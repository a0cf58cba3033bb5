import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef, TableDef } from './define-table.js';
import { jsonProblem, textProblem, timestampProblem } from './value-checks.js';
import type { ValueCodec } from './value-codec.js';

export type JsRow = Record<string, unknown>;

export interface EncodedRow {
  readonly kind: 'insert' | 'upsert';
  /** The row as callers will read it back (defaults applied, timestamps as Date). */
  readonly row: JsRow;
  /** Driver values in `table.columns` order. */
  readonly params: unknown[];
}

export interface EncodedPatch {
  readonly columns: readonly ColumnDef[];
  readonly params: unknown[];
  /** Equal for patches of the same columns: bit i is column i. -1 when the table is too wide for one number. */
  readonly mask: number;
}

/**
 * Checks caller values against a table's schema and turns them into driver values in one pass,
 * so a bad value is refused before anything is queued and nothing is half-written.
 */
export class RowCodec {
  readonly table: TableDef;
  readonly #codec: ValueCodec;
  readonly #decoded: { column: ColumnDef; decode: (value: unknown) => unknown }[];
  /** Patched column lists by mask, shared (see #patchColumns). */
  readonly #columnSets: Map<number, readonly ColumnDef[]>;
  readonly #keyIndexes: number[];
  readonly #indexByName: ReadonlyMap<string, number>;
  readonly #keyColumn: readonly boolean[];
  /** Each column's encoder by column index: one array load on the hot path, not two lookups. */
  readonly #encoders: readonly ((value: unknown) => unknown)[];
  /** The index of `updatedAt` in a timestamped table, which every patch sets; -1 without timestamps. */
  readonly #updatedAt: number;

  constructor(table: TableDef, codec: ValueCodec) {
    this.table = table;
    this.#codec = codec;
    this.#decoded = [];
    this.#columnSets = new Map();
    this.#keyIndexes = table.primaryKey.map((column) => table.columns.indexOf(column));
    this.#indexByName = new Map(table.columns.map((column, i) => [column.name, i]));
    this.#keyColumn = table.columns.map((column) => table.primaryKey.includes(column));
    this.#encoders = table.columns.map((column) => codec.encode[column.type]);
    this.#updatedAt = table.timestamps ? table.columns.indexOf(table.timestamps.updatedAt) : -1;
    for (const column of table.columns) {
      const decode = codec.decode[column.type];
      if (decode) this.#decoded.push({ column, decode });
    }
  }

  /** Checks and encodes a whole row; the result is the gate's insert or upsert command itself. */
  encodeInsert(input: unknown, kind: 'insert' | 'upsert' = 'insert'): EncodedRow {
    const object = this.#requireObject(input, 'row');
    this.#rejectUnknown(object);
    const columns = this.table.columns;
    const row: JsRow = {};
    const params = new Array<unknown>(columns.length);
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as ColumnDef;
      let value = object[column.name];
      if (value === undefined) {
        if (!column.makeDefault) {
          throw new SluiceError(
            'VALIDATION',
            `${this.table.name}.${column.name} is missing: it is a ${column.type} column that is not nullable and has no default. Pass a value for it.`,
            { table: this.table.name, column: column.name },
          );
        }
        value = column.makeDefault();
      }
      const checked = this.#check(column, value);
      row[column.name] = checked;
      params[i] = checked === null ? null : (this.#encoders[i] as (value: unknown) => unknown)(checked);
    }
    return { kind, row, params };
  }

  encodePatch(input: unknown): EncodedPatch {
    const object = this.#requireObject(input, 'patch');
    // The patch's own names (a handful), not every column of the table, put in table order so
    // that one set of columns is one statement shape whatever order the caller wrote them in.
    const found: number[] = [];
    const stamped = this.#updatedAt >= 0;
    if (stamped) this.#refuseTimestamps(object);
    for (const name in object) {
      const index = this.#indexByName.get(name);
      if (index === undefined) this.#rejectUnknown(object);
      if (object[name] === undefined) continue;
      let at = found.length;
      found.push(index as number);
      while (at > 0 && (found[at - 1] as number) > (index as number)) {
        found[at] = found[at - 1] as number;
        at--;
      }
      found[at] = index as number;
    }
    if (stamped && found.length > 0) {
      // Every change moves updatedAt, in table order like the caller's columns.
      let at = found.length;
      found.push(this.#updatedAt);
      while (at > 0 && (found[at - 1] as number) > this.#updatedAt) {
        found[at] = found[at - 1] as number;
        at--;
      }
      found[at] = this.#updatedAt;
    }
    if (found.length === 0) {
      throw new SluiceError('VALIDATION', `An update of ${this.table.name} names no column to change; pass at least one.`, {
        table: this.table.name,
      });
    }
    const params = new Array<unknown>(found.length);
    let mask = 0;
    for (let i = 0; i < found.length; i++) {
      const index = found[i] as number;
      const column = this.table.columns[index] as ColumnDef;
      const value = index === this.#updatedAt ? new Date() : object[column.name];
      if (this.#keyColumn[index]) {
        throw new SluiceError(
          'VALIDATION',
          `${this.table.name}.${column.name} is part of the primary key and cannot be changed by an update; delete the row and insert it under the new key.`,
          { table: this.table.name, column: column.name, value },
        );
      }
      const checked = this.#check(column, value);
      params[i] = checked === null ? null : (this.#encoders[index] as (value: unknown) => unknown)(checked);
      mask |= 1 << index;
    }
    return { columns: this.#patchColumns(found, mask), params, mask: this.table.columns.length <= 30 ? mask : -1 };
  }

  /**
   * The patched columns as one shared array per set of columns (by mask, on tables of up to 30
   * columns): a hot update loop allocates no column list per write, and a run of same-shape
   * updates compares one reference.
   */
  #patchColumns(found: readonly number[], mask: number): readonly ColumnDef[] {
    const shared = this.table.columns.length <= 30 ? this.#columnSets.get(mask) : undefined;
    if (shared !== undefined) return shared;
    const columns = found.map((index) => this.table.columns[index] as ColumnDef);
    if (this.table.columns.length <= 30 && this.#columnSets.size < 1024) this.#columnSets.set(mask, columns);
    return columns;
  }

  /**
   * A patch built once and used many times (a lifecycle move) with `updatedAt` set to now; the
   * patch itself when the table keeps no timestamps.
   */
  restamp(patch: EncodedPatch): EncodedPatch {
    if (this.#updatedAt < 0) return patch;
    const at = patch.columns.indexOf(this.table.columns[this.#updatedAt] as ColumnDef);
    if (at < 0) return patch;
    const params = patch.params.slice();
    params[at] = (this.#encoders[this.#updatedAt] as (value: unknown) => unknown)(new Date());
    return { columns: patch.columns, params, mask: patch.mask };
  }

  #refuseTimestamps(object: JsRow): void {
    const timestamps = this.table.timestamps;
    if (!timestamps) return;
    for (const column of [timestamps.createdAt, timestamps.updatedAt]) {
      if (object[column.name] !== undefined) {
        throw new SluiceError(
          'VALIDATION',
          `${this.table.name}.${column.name} is kept by timestamps: true, so an update may not set it; got ${describeValue(object[column.name])}. Leave it out: ${column.name === 'updatedAt' ? 'every change sets it' : 'it is set once, on insert'}.`,
          { table: this.table.name, column: column.name, value: object[column.name] },
        );
      }
    }
  }

  /** A single key is its value; a composite key is an object holding exactly its columns. */
  encodeKey(key: unknown): unknown[] {
    const pk = this.table.primaryKey;
    if (pk.length === 1) {
      const column = pk[0] as ColumnDef;
      if (key !== null && typeof key === 'object' && !(key instanceof Date) && !(key instanceof Uint8Array)) {
        const value = (key as JsRow)[column.name];
        if (value === undefined || Object.keys(key).length !== 1) this.#badKey(key);
        return [this.#codec.encode[column.type](this.#check(column, value))];
      }
      if (key === null || key === undefined) this.#badKey(key);
      return [this.#codec.encode[column.type](this.#check(column, key))];
    }
    if (key === null || typeof key !== 'object') this.#badKey(key);
    const object = key as JsRow;
    if (Object.keys(object).length !== pk.length) this.#badKey(key);
    return pk.map((column) => {
      const value = object[column.name];
      if (value === undefined || value === null) this.#badKey(key);
      return this.#codec.encode[column.type](this.#check(column, value));
    });
  }

  /** The key of an encoded row, in primary-key order. */
  keyOfParams(params: readonly unknown[]): unknown[] {
    const indexes = this.#keyIndexes;
    return indexes.length === 1 ? [params[indexes[0] as number]] : indexes.map((i) => params[i]);
  }

  /** Driver-encoded key values back into callers' values, in primary-key order. */
  decodeKey(encoded: readonly unknown[]): unknown[] {
    return this.table.primaryKey.map((column, i) => {
      const value = encoded[i];
      const decode = this.#codec.decode[column.type];
      return decode === null || value === null || value === undefined ? value : decode(value);
    });
  }

  /** The encoded key of a decoded row (as the change feed carries keys). */
  keyOfRow(row: JsRow): unknown[] {
    return this.table.primaryKey.map((column) => this.#codec.encode[column.type](row[column.name]));
  }

  /** Encodes one filter operand for a column (used by the query compiler). */
  encodeValue(column: ColumnDef, value: unknown): unknown {
    const checked = this.#check(column, value);
    return checked === null ? null : this.#codec.encode[column.type](checked);
  }

  /** Turns a driver row (already aliased to caller names) into the caller's row, in place. */
  decodeRow(row: JsRow): JsRow {
    for (const { column, decode } of this.#decoded) {
      const value = row[column.name];
      if (value !== null && value !== undefined) row[column.name] = decode(value);
    }
    return row;
  }

  #check(column: ColumnDef, value: unknown): unknown {
    if (value === null) {
      if (column.nullable) return null;
      throw this.#typeError(column, value, 'is not nullable');
    }
    switch (column.type) {
      case 'text':
        if (typeof value === 'string') {
          const problem = textProblem(value);
          if (problem) throw this.#typeError(column, value, problem);
          return value;
        }
        break;
      case 'integer':
        if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
        if (typeof value === 'bigint' && value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER) {
          return Number(value);
        }
        break;
      case 'real':
        // -0 reads back as 0 from SQLite: store what every dialect returns.
        if (typeof value === 'number' && Number.isFinite(value)) return value === 0 ? 0 : value;
        break;
      case 'boolean':
        if (typeof value === 'boolean') return value;
        break;
      case 'timestamp': {
        const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? new Date(value).getTime() : undefined;
        if (ms === undefined) break;
        const problem = timestampProblem(ms);
        if (problem) throw this.#typeError(column, value, problem);
        return value instanceof Date ? value : new Date(ms);
      }
      case 'blob':
        if (value instanceof Uint8Array) return value;
        break;
      case 'json': {
        const problem = jsonProblem(value);
        if (problem) throw this.#typeError(column, value, problem);
        return value;
      }
    }
    throw this.#typeError(column, value, `expects ${EXPECTED[column.type]}`);
  }

  #typeError(column: ColumnDef, value: unknown, problem: string): SluiceError {
    return new SluiceError(
      'VALIDATION',
      `${this.table.name}.${column.name} ${problem}, got ${describeValue(value)} (${value === null ? 'null' : typeof value}).`,
      { table: this.table.name, column: column.name, value },
    );
  }

  #requireObject(input: unknown, what: string): JsRow {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new SluiceError('VALIDATION', `A ${what} for ${this.table.name} must be an object, got ${describeValue(input)}.`, {
        table: this.table.name,
        value: input,
      });
    }
    return input as JsRow;
  }

  #rejectUnknown(object: JsRow): void {
    for (const name in object) {
      if (!this.table.columnsByName.has(name)) {
        const known = [...this.table.columnsByName.keys()];
        throw new SluiceError(
          'VALIDATION',
          `${this.table.name} has no column ${describeValue(name)}${didYouMean(name, known)} Known columns: ${known.join(', ')}.`,
          { table: this.table.name, column: name },
        );
      }
    }
  }

  #badKey(key: unknown): never {
    const names = this.table.primaryKey.map((c) => c.name);
    const shape = names.length === 1 ? `its ${names[0]} value` : `an object with exactly ${names.join(', ')}`;
    throw new SluiceError('VALIDATION', `${describeValue(key)} is not a key of ${this.table.name}: pass ${shape}.`, {
      table: this.table.name,
      value: key,
    });
  }
}

const EXPECTED = {
  text: 'a string',
  integer: 'a safe integer',
  real: 'a finite number',
  boolean: 'true or false',
  timestamp: 'a valid Date or epoch milliseconds',
  blob: 'a Buffer or Uint8Array',
  json: 'plain JSON data',
} as const;
