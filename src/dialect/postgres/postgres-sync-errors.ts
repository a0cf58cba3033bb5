import type pg from 'pg';
import { SluiceError } from '../../core/sluice-error.js';

/**
 * How the sync target's failures are sorted. Unlike classifyPostgresError (postgres-errors.ts),
 * which names what was wrong with one caller's write, this sorts by SQLSTATE class what a failure
 * says about the target as a whole: a row it refuses, a statement it refuses, or no answer.
 */

/** The target gave no answer in time: a statement past statementTimeoutMs, or a connection past connectTimeoutMs. */
export class TargetStalledError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('UNAVAILABLE', message, options);
  }
}

/**
 * What a failure says about the target:
 * - `refusing`: it answers but rejects the statement itself. SQLSTATE classes 42 (syntax error, a
 *   missing or renamed column or table, no privilege), 0A (feature not supported), 28 (the login
 *   refused), 3D and 3F (no such database or schema). A configuration error: retrying at full
 *   speed cannot help.
 * - `stalled`: no answer in time (57014 is the server cancelling a statement past
 *   statement_timeout).
 * - `down`: no connection, or a lost one.
 */
export type TargetFailure = 'refusing' | 'stalled' | 'down';

const REFUSING = ['42', '0A', '28', '3D', '3F'];

export function targetFailure(error: unknown): TargetFailure {
  if (error instanceof TargetStalledError) return 'stalled';
  const code = sqlState(error);
  if (code === '57014') return 'stalled';
  if (code !== undefined && REFUSING.includes(code.slice(0, 2))) return 'refusing';
  return 'down';
}

/** The target refused a value (a constraint it has and we don't, a value out of its range). */
export function isRowRefusal(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23') || code.startsWith('P0'));
}

/** One row the target refused: its own words, and the parts of them that name no value. */
export interface RowRefusal {
  /** Message, SQLSTATE, constraint and detail: the detail may quote the row's values. */
  readonly error: string;
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;
}

export function rowRefusal(error: unknown): RowRefusal {
  const constraint = (error as { constraint?: unknown } | undefined)?.constraint;
  return { error: describePgError(error), sqlState: sqlState(error), constraint: typeof constraint === 'string' ? constraint : undefined };
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The target's own words, with its SQLSTATE and constraint, for a dead letter or status. */
export function describePgError(error: unknown): string {
  const e = error as { message?: string; code?: string; constraint?: string; detail?: string };
  const parts = [e.message ?? String(error)];
  if (sqlState(error)) parts.push(`SQLSTATE ${e.code}`);
  if (e.constraint) parts.push(`constraint ${e.constraint}`);
  if (e.detail) parts.push(e.detail);
  return parts.join('; ');
}

/** After a timeout the connection is dropped, which rolls back; asking first would wait out another timeout. */
export async function rollback(client: pg.Client, cause: unknown): Promise<void> {
  if (cause instanceof TargetStalledError || (cause as Error | undefined)?.message === 'Query read timeout') return;
  await client.query('rollback').catch(() => {});
}

/** node-postgres reports its own query timeout as a plain Error; say what it means. */
export function stalls<T>(work: Promise<T>, statementTimeoutMs: number): Promise<T> {
  return work.catch((error: Error) => {
    if (error?.message === 'Query read timeout') {
      throw new TargetStalledError(`no answer from the sync target within statementTimeoutMs (${statementTimeoutMs} ms)`, { cause: error });
    }
    throw error;
  });
}

/** Ends the session, and cuts the socket if the goodbye goes unanswered (a hung link never answers it). */
export async function endClient(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, 500);
  });
  await Promise.race([client.end().catch(() => {}), cut]);
  clearTimeout(timer);
}
