/**
 * Every error Sluice raises is a `SluiceError` with a stable `code`; the driver's own error, when
 * there is one, is kept as `cause` so nothing the database said is lost.
 */
export const ERROR_CODES = [
  'VALIDATION',
  'CONSTRAINT',
  'CONFLICT',
  'ILLEGAL_TRANSITION',
  'NOT_FOUND',
  'BUSY',
  'OVERLOADED',
  'CLOSED',
  'UNAVAILABLE',
  'CONFIG',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SluiceErrorDetails {
  table?: string;
  column?: string;
  value?: unknown;
  cause?: unknown;
  /** CONFLICT only: the row as the database holds it now, so the caller can decide without reading it again. */
  current?: Readonly<Record<string, unknown>>;
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly value: unknown;
  /**
   * On CONFLICT (a compare-and-set that did not apply): the row as the database held it when the
   * write was refused, read inside the same transaction. Undefined for every other code.
   */
  readonly current: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details: SluiceErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.table = details.table;
    this.column = details.column;
    this.value = details.value;
    this.current = details.current;
  }

  static is(error: unknown, code?: ErrorCode): error is SluiceError {
    return error instanceof SluiceError && (code === undefined || error.code === code);
  }
}

/** Renders a caller's value for an error message without dumping a megabyte of it. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'function') return `a function${value.name ? ` ${value.name}` : ''}`;
  if (typeof value === 'symbol') return String(value);
  if (value instanceof Map || value instanceof Set) return `a ${value.constructor.name} of ${value.size}`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export { closestName, didYouMean } from './did-you-mean.js';
