import { SluiceError } from '../core/sluice-error.js';
import type { TableStatements } from '../query/table-statements.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';
import type { DialectCapabilities } from './dialect-adapter.js';
import { CommittedChange, type Outcome, type WriteOp } from './write-op.js';

/**
 * A batch's plan, shared by both runners: for each write, the statement it becomes and how what
 * the statement returned settles it. A runner only executes (SQLite synchronously, PostgreSQL
 * pipelined, each with its own savepoint rules); what a write means lives here once.
 */

/** One write as one statement. */
export interface OpStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** `rows`: the statement returns rows to read back; `count`: only how many it changed. */
  readonly reads: 'rows' | 'count';
}

/** What an executed statement gave back. */
export interface StatementResult {
  readonly rows: readonly Record<string, unknown>[];
  readonly count: number;
}

/** Settles a write that applied and needs nothing read back; shared, since it carries no per-write data. */
export const APPLIED: Outcome = Object.freeze({ ok: true, value: undefined });

/**
 * The statement for one write. `insertOne` is the dialect's own single-row insert or upsert
 * (SQLite: a VALUES row; PostgreSQL: the same unnest text every insert uses, planned once).
 */
export function planOne(
  op: WriteOp,
  statements: TableStatements,
  capabilities: DialectCapabilities,
  insertOne: (op: WriteOp, upsert: boolean) => OpStatement,
): OpStatement {
  const command = op.command;
  switch (command.kind) {
    case 'insert':
    case 'upsert':
      return insertOne(op, command.kind === 'upsert');
    case 'update': {
      const { sql, extra } = statements.update(command.patch.columns, command.where, command.returning === 'row' ? 'row' : 'key');
      return { sql, params: command.patch.params.concat(command.key, extra as unknown[]), reads: 'rows' };
    }
    case 'delete':
      return { sql: statements.delete(), params: command.key, reads: 'count' };
    case 'updateMany': {
      // SKIP LOCKED where there are row locks: concurrent claimers take different rows instead of queueing.
      const { sql, extra } = statements.updateMany(
        command.patch.columns,
        command.increment,
        command.where,
        command.orderBy,
        command.limit,
        capabilities,
      );
      return { sql, params: command.patch.params.concat(extra as unknown[]), reads: 'rows' };
    }
    case 'deleteMany': {
      const { sql, extra } = statements.deleteMany(command.where, command.limit);
      return { sql, params: extra, reads: 'rows' };
    }
  }
}

/**
 * Settles one write from its statement's result. Returns `missed` for an update by key that
 * changed no row: the runner reads the row (in the same transaction, synchronously or not) and
 * settles it with missOrConflict.
 */
export function settleOne(
  op: WriteOp,
  index: number,
  result: StatementResult,
  upsertReturnsRows: boolean,
  outcomes: Outcome[],
  changes: CommittedChange[],
): 'missed' | undefined {
  const command = op.command;
  const codec = op.codec;
  switch (command.kind) {
    case 'insert':
    case 'upsert': {
      const stored = command.kind === 'upsert' && upsertReturnsRows ? storedRows(codec, result.rows) : undefined;
      outcomes[index] = { ok: true, value: resolvedRow(codec, command, stored) };
      changes.push(new CommittedChange(codec, command.kind, codec.keyOfParams(command.params)));
      return undefined;
    }
    case 'update': {
      const row = result.rows[0];
      if (row === undefined) return 'missed';
      outcomes[index] = command.returning === 'row' ? { ok: true, value: codec.decodeRow(row) } : APPLIED;
      changes.push(new CommittedChange(codec, 'update', command.key));
      return undefined;
    }
    case 'delete':
      outcomes[index] = { ok: true, value: result.count > 0 };
      if (result.count > 0) changes.push(new CommittedChange(codec, 'delete', command.key));
      return undefined;
    case 'updateMany':
      outcomes[index] = { ok: true, value: recordUpdatedRows(op, result.rows, changes) };
      return undefined;
    case 'deleteMany': {
      const keyNames = codec.table.primaryKey.map((c) => c.sqlName);
      for (const row of result.rows)
        changes.push(
          new CommittedChange(
            codec,
            'delete',
            keyNames.map((name) => row[name]),
          ),
        );
      outcomes[index] = { ok: true, value: result.rows.length };
      return undefined;
    }
  }
}

/** Settles a run of inserts (or upserts) that one multi-row statement wrote. */
export function settleInsertRun(
  ops: readonly WriteOp[],
  start: number,
  count: number,
  stored: ReadonlyMap<string, JsRow> | undefined,
  outcomes: Outcome[],
  changes: CommittedChange[],
): void {
  for (let i = start; i < start + count; i++) {
    const op = ops[i] as WriteOp;
    const command = op.command as { params: unknown[]; row: JsRow };
    outcomes[i] = { ok: true, value: resolvedRow(op.codec, command, stored) };
    changes.push(new CommittedChange(op.codec, op.command.kind, op.codec.keyOfParams(command.params)));
  }
}

/** The parameters of a run of inserts, row after row, for a multi-row VALUES statement. */
export function insertRunParams(ops: readonly WriteOp[], start: number, count: number): unknown[] {
  const params: unknown[] = [];
  for (let i = start; i < start + count; i++) {
    const command = (ops[i] as WriteOp).command as { params: unknown[] };
    for (const value of command.params) params.push(value);
  }
  return params;
}

/** Decodes the rows a multi-row update returned, in place, and adds their keys to the change feed. */
export function recordUpdatedRows(
  op: WriteOp,
  rows: readonly Record<string, unknown>[],
  changes: CommittedChange[],
): readonly Record<string, unknown>[] {
  for (const row of rows) {
    op.codec.decodeRow(row);
    changes.push(new CommittedChange(op.codec, 'update', op.codec.keyOfRow(row)));
  }
  return rows;
}

/**
 * Why an update by key changed no row: NOT_FOUND when the row is absent, CONFLICT when it exists
 * but no longer matches the compare-and-set condition. `stored` (the row as the database holds it,
 * read in the same transaction) is looked up only for the few updates that missed, never for the
 * many that applied; a CONFLICT carries it decoded, so a caller that lost a race sees what won.
 */
export function missOrConflict(op: WriteOp, key: readonly unknown[], stored: Record<string, unknown> | undefined): SluiceError {
  const table = op.codec.table.name;
  const shown = key.length === 1 ? JSON.stringify(key[0]) : JSON.stringify(key);
  return stored !== undefined
    ? new SluiceError(
        'CONFLICT',
        `The update of ${table} ${shown} did not apply: the row no longer matches its condition (another writer changed it first). Its current values are on the error's \`current\`; decide from those.`,
        { table, value: key, current: op.codec.decodeRow(stored) },
      )
    : new SluiceError('NOT_FOUND', `${table} has no row with key ${shown}; nothing was updated.`, { table, value: key });
}

/**
 * The rows an upsert statement returned, decoded, by key. An upsert that keeps an existing row's
 * lease stores a row other than the one it was given, and its promise must resolve with what a
 * read would return.
 */
export function storedRows(codec: RowCodec, returned: readonly Record<string, unknown>[]): ReadonlyMap<string, JsRow> {
  const rows = new Map<string, JsRow>();
  for (const row of returned) rows.set(keyText(codec.keyOfRow(codec.decodeRow(row))), row);
  return rows;
}

/** What one insert or upsert resolves with: the stored row when the statement returned it, else the row it wrote. */
function resolvedRow(
  codec: RowCodec,
  command: { readonly params: readonly unknown[]; readonly row: JsRow },
  stored: ReadonlyMap<string, JsRow> | undefined,
): JsRow {
  return stored?.get(keyText(codec.keyOfParams(command.params))) ?? command.row;
}

/** One string per key, equal for equal keys whichever way their values were produced (a caller's Uint8Array, a driver's Buffer). */
function keyText(key: readonly unknown[]): string {
  return key
    .map((value) => {
      if (value instanceof Uint8Array) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
      if (value instanceof Date) return `d${value.getTime()}`;
      if (typeof value === 'bigint') return `n${value}`;
      return JSON.stringify(value);
    })
    .join('\u0000');
}
