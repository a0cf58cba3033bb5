import { SluiceError } from '../../core/sluice-error.js';
import { TransientError } from '../dialect.js';

/** Another transaction holds what this one needs: roll back, wait, try the whole batch again. */
const BUSY_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
  '57014', // query_canceled (statement_timeout)
]);

/** The server went away or is not accepting connections yet: reconnect and try again. */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '57P05', // idle_session_timeout
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** Messages the driver raises without any code when the socket is gone. */
const LOST_CONNECTION =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|socket hang up/i;

interface PgErrorFields {
  code?: string;
  severity?: string;
  hint?: string;
  constraint?: string;
  column?: string;
  detail?: string;
  table?: string;
}

function fieldsOf(error: unknown): PgErrorFields {
  return typeof error === 'object' && error !== null ? (error as PgErrorFields) : {};
}

function sqlState(error: unknown): string {
  const code = fieldsOf(error).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : '';
}

/**
 * The server's answer to a request it cannot parse, such as a bind message with more than 65,535
 * parameters: an ERROR about that one statement, after which the connection goes on working.
 */
const PROTOCOL_VIOLATION = '08P01';

/** True when the connection that raised the error can no longer be used. */
export function isConnectionLoss(error: unknown): boolean {
  const state = sqlState(error);
  if (state === PROTOCOL_VIOLATION) return fieldsOf(error).severity === 'FATAL';
  if (state !== '') return state.startsWith('08') || UNAVAILABLE_STATES.has(state);
  const code = fieldsOf(error).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return error instanceof Error && LOST_CONNECTION.test(error.message);
}

export function isPostgresBusy(error: unknown): boolean {
  return BUSY_STATES.has(sqlState(error));
}

/** The whole batch was rolled back by the server or the network and may be tried again. */
export function postgresTransient(error: unknown): TransientError | undefined {
  if (error instanceof TransientError) return error;
  if (isPostgresBusy(error)) {
    return new TransientError('busy', `PostgreSQL refused for lock contention (${sqlState(error)}: ${messageOf(error)})`, error);
  }
  if (isConnectionLoss(error)) {
    return new TransientError('unavailable', `PostgreSQL could not be reached (${describeLoss(error)})`, error);
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeLoss(error: unknown): string {
  const code = fieldsOf(error).code;
  return code ? `${code}: ${messageOf(error)}` : messageOf(error);
}

function constraintAdvice(state: string, fields: PgErrorFields): string {
  switch (state) {
    case '23505':
      return fields.constraint?.endsWith('_pkey')
        ? ' A row with that key already exists: use upsert to replace it, or pick another key.'
        : ' Another row already holds that value in a unique column: change the value, or update that row instead.';
    case '23502':
      return ` Column ${fields.column ?? '?'} may not be null: pass a value for it.`;
    case '23503':
      return ' The row refers to one that does not exist, or is still referred to: write the referenced row first, or remove the references.';
    case '23514':
      return ' A CHECK constraint in the database refused the value: see the constraint named above.';
    case '23P01':
      return ' An exclusion constraint refused it: the row overlaps another one.';
    default:
      return '';
  }
}

/** What to change, for the data exceptions a caller's value causes. */
function dataAdvice(state: string): string {
  switch (state) {
    case '22021':
    case '22P05':
      return ' Text and JSON may not contain the NUL character \\u0000 or bytes invalid in the encoding: remove them, or store the value as a blob.';
    case '22001':
      return ' The value is longer than the column allows: shorten it or widen the column.';
    case '22003':
      return ' The number is outside the range of the column type: integer columns hold 64-bit integers.';
    case '22P02':
    case '22007':
    case '22008':
      return ' The value does not have the column type’s format or range: pass a value of the declared type.';
    case '22012':
      return ' A division by zero in a computed value: check the expression.';
    default:
      return ' Check the value against the column type.';
  }
}

function limitAdvice(message: string): string {
  if (/index row (size|requires)/i.test(message)) {
    return ' A value in an indexed column (the key, a unique or an index column) is larger than a PostgreSQL btree index entry may be (about 2,700 bytes): shorten it, or index a hash of it instead.';
  }
  return ' Make the value or the statement smaller.';
}

/** Maps a driver error to the SluiceError code the core and the callers understand. */
export function classifyPostgresError(error: unknown, table?: string): SluiceError {
  // Before the SluiceError pass-through: a transient error is one, but the caller gets a plain one naming the table.
  if (error instanceof TransientError) {
    return new SluiceError(error.reason === 'busy' ? 'BUSY' : 'UNAVAILABLE', `${error.message}.`, { table, cause: error.cause });
  }
  if (error instanceof SluiceError) return error;
  const refused = refusedStatement(error, table);
  if (refused) return refused;
  const state = sqlState(error);
  const message = messageOf(error);
  const where = table ? ` on ${table}` : '';
  if (BUSY_STATES.has(state)) {
    return new SluiceError('BUSY', `PostgreSQL is locked by another transaction${where}: ${message} (${state}).`, { table, cause: error });
  }
  if (isConnectionLoss(error)) {
    return new SluiceError('UNAVAILABLE', `PostgreSQL could not be reached${where}: ${describeLoss(error)}. Check that the server is up.`, {
      table,
      cause: error,
    });
  }
  if (state === '53100' || state === '53200') {
    return new SluiceError(
      'UNAVAILABLE',
      `PostgreSQL is out of resources${where}: ${message} (${state}). Free disk space or memory on the server.`,
      {
        table,
        cause: error,
      },
    );
  }
  return new SluiceError('UNAVAILABLE', `PostgreSQL failed${where}: ${message}${state ? ` (${state})` : ''}.`, { table, cause: error });
}

/** The statement's own fault (a constraint, a value, the schema or the role): retrying cannot help. */
function refusedStatement(error: unknown, table: string | undefined): SluiceError | undefined {
  const state = sqlState(error);
  const fields = fieldsOf(error);
  const message = messageOf(error);
  const where = table ? ` on ${table}` : '';
  const detail = fields.detail ? ` (${fields.detail})` : '';
  if (state.startsWith('23')) {
    return new SluiceError('CONSTRAINT', `Write${where} violates a constraint: ${message}${detail}.${constraintAdvice(state, fields)}`, {
      table,
      cause: error,
    });
  }
  if (state === 'P0001') {
    return new SluiceError('CONSTRAINT', `A trigger in the database refused the write${where}: ${message}.`, { table, cause: error });
  }
  if (state === '42P01') {
    return new SluiceError('CONFIG', `The database has no table${where}: ${message}. Run db.migrate() (or \`sluice migrate\`) first.`, {
      table,
      cause: error,
    });
  }
  if (state === '42703') {
    return new SluiceError('CONFIG', `The database schema is behind the code${where}: ${message}. Run db.migrate() to add it.`, {
      table,
      cause: error,
    });
  }
  if (state === '3F000' || state === '3D000' || state === '42939' || state.startsWith('28') || state === '42501') {
    return new SluiceError(
      'CONFIG',
      `PostgreSQL refused${where}: ${message} (${state}). Check the URL, the schema option and the role's privileges.`,
      {
        table,
        cause: error,
      },
    );
  }
  if (state.startsWith('22')) {
    return new SluiceError('VALIDATION', `PostgreSQL cannot store a value${where}: ${message}${detail} (${state}).${dataAdvice(state)}`, {
      table,
      column: fields.column,
      cause: error,
    });
  }
  if (state === '54000' || state === '54001' || state === '54011' || state === '54023') {
    return new SluiceError(
      'VALIDATION',
      `PostgreSQL refused the write${where} as too large: ${message}${detail} (${state}).${limitAdvice(message)}`,
      {
        table,
        column: fields.column,
        cause: error,
      },
    );
  }
  if (state === PROTOCOL_VIOLATION && !isConnectionLoss(error)) {
    return new SluiceError(
      'VALIDATION',
      `PostgreSQL refused the statement${where}: ${message} (${state}). A statement carries at most 65,535 values: split the write, or pass a long list as one $in array.`,
      { table, cause: error },
    );
  }
  return undefined;
}
