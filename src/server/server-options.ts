import { SluiceError } from '../index.js';
import { describeValue } from '../internal.js';

/** What `createServer(db, options)` accepts; every limit has a default. */
export interface ServerOptions {
  /** Writes need `Authorization: Bearer <token>` when set. Default: none (loopback use only). */
  token?: string;
  /** Reads (records, stats, metrics, events) need this token or the write token when set. Default: reads are open. */
  readToken?: string;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Most rows one insert request may carry. Default 1,000. */
  maxRowsPerRequest?: number;
  /** Largest `limit` a records query may ask for (and the default page size's ceiling). Default 1,000. */
  maxLimit?: number;
  /** A request that has not finished after this long gets 503; writes get it as their deadline. Default 30 s. */
  requestTimeoutMs?: number;
  /** How often `/api/v1/events` sends a snapshot. Default 1,000 ms. */
  eventIntervalMs?: number;
  /** The schema version the caller expects; `/readyz` reports 503 while the database is older. Default: not checked. */
  schemaVersion?: number;
  /** Log requests with pino (fastify's logger options or an instance). Default: off. */
  logger?: boolean | Record<string, unknown>;
}

export interface ResolvedServerOptions {
  readonly token: string | undefined;
  readonly readToken: string | undefined;
  readonly bodyLimitBytes: number;
  readonly maxRowsPerRequest: number;
  readonly maxLimit: number;
  readonly requestTimeoutMs: number;
  readonly eventIntervalMs: number;
  readonly schemaVersion: number | undefined;
  readonly logger: boolean | Record<string, unknown>;
}

const KNOWN = [
  'token',
  'readToken',
  'bodyLimitBytes',
  'maxRowsPerRequest',
  'maxLimit',
  'requestTimeoutMs',
  'eventIntervalMs',
  'schemaVersion',
  'logger',
] as const;

export function resolveServerOptions(input: ServerOptions = {}): ResolvedServerOptions {
  for (const key of Object.keys(input)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new SluiceError('CONFIG', `createServer: unknown option "${key}"; the options are ${KNOWN.join(', ')}.`, { value: key });
    }
  }
  const whole = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new SluiceError('CONFIG', `createServer: ${name} must be a whole number from ${min} to ${max}, got ${describeValue(value)}.`, {
        value,
      });
    }
    return value;
  };
  const secret = (name: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length < 8) {
      throw new SluiceError('CONFIG', `createServer: ${name} must be a string of at least 8 characters.`);
    }
    return value;
  };
  return Object.freeze({
    token: secret('token', input.token),
    readToken: secret('readToken', input.readToken),
    bodyLimitBytes: whole('bodyLimitBytes', input.bodyLimitBytes, 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxRowsPerRequest: whole('maxRowsPerRequest', input.maxRowsPerRequest, 1000, 1, 100_000),
    maxLimit: whole('maxLimit', input.maxLimit, 1000, 1, 100_000),
    requestTimeoutMs: whole('requestTimeoutMs', input.requestTimeoutMs, 30_000, 100, 3_600_000),
    eventIntervalMs: whole('eventIntervalMs', input.eventIntervalMs, 1000, 50, 60_000),
    schemaVersion: input.schemaVersion === undefined ? undefined : whole('schemaVersion', input.schemaVersion, 1, 1, 1_000_000),
    logger: input.logger ?? false,
  });
}
