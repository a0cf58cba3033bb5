import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, SluiceError } from '../index.js';

/** The codes the HTTP face adds to SluiceError's own: what only a request can get wrong. */
export type HttpErrorCode = ErrorCode | 'UNAUTHORIZED' | 'INTERNAL';

const STATUS: Record<ErrorCode, number> = {
  VALIDATION: 400,
  CONFIG: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CONSTRAINT: 409,
  ILLEGAL_TRANSITION: 409,
  OVERLOADED: 429,
  BUSY: 503,
  UNAVAILABLE: 503,
  CLOSED: 503,
};

/** Seconds a client should wait before retrying a 429 or 503. */
const RETRY_AFTER_SECONDS = 1;

/**
 * The longest message an error answer carries: enough for every cause the server names, and a
 * request cannot make the answer (or the dashboard's last errors) grow with its own size.
 */
export const MAX_MESSAGE_CHARS = 2000;
/** How many validation failures a message lists; the first few say what to fix. */
const MAX_VALIDATION_PARTS = 5;

export interface ErrorBody {
  error: { code: HttpErrorCode; message: string };
}

/** An error the server raises itself, with the status it answers. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  constructor(status: number, code: HttpErrorCode, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Cuts a message to `max` characters, saying that it was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (cut from ${text.length} characters)`;
  return note.length >= max ? text.slice(0, max) : `${text.slice(0, max - note.length)}${note}`;
}

/** Maps anything thrown by a route or by fastify to a status and `{ error: { code, message } }`, the message bounded. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  const described = describeUnbounded(error);
  const { message } = described.body.error;
  if (message.length <= MAX_MESSAGE_CHARS) return described;
  return { status: described.status, body: { error: { code: described.body.error.code, message: truncate(message, MAX_MESSAGE_CHARS) } } };
}

function describeUnbounded(error: unknown): { status: number; body: ErrorBody } {
  if (SluiceError.is(error)) return { status: STATUS[error.code], body: { error: { code: error.code, message: error.message } } };
  if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  const e = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    return { status: 400, body: { error: { code: 'VALIDATION', message: validationMessage(e) } } };
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { status: 400, body: { error: { code: 'VALIDATION', message: `The request body is not valid JSON: ${e.message}` } } };
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      status: 413,
      body: { error: { code: 'VALIDATION', message: 'The request body is larger than the server accepts (bodyLimitBytes).' } },
    };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code: HttpErrorCode = status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHORIZED' : 'VALIDATION';
    return { status, body: { error: { code, message: e.message ?? 'Bad request.' } } };
  }
  if (status === 503) return { status, body: { error: { code: 'UNAVAILABLE', message: e.message ?? 'Unavailable.' } } };
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'The server failed to handle this request; it has been logged.' } } };
}

interface AjvFailure {
  keyword?: string;
  instancePath?: string;
  schemaPath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * Names what failed. A body that is one row or an array of rows is a `oneOf`: the branch of the
 * other shape fails on its type at the top, which says nothing, so those failures are left out
 * while another one explains the problem.
 */
function validationMessage(e: { validation?: unknown[]; validationContext?: string; message?: string }): string {
  const where = e.validationContext ?? 'request';
  const failures = (e.validation as AjvFailure[]).slice(0, 50);
  const telling = failures.filter(
    (v) => v.keyword !== 'oneOf' && !(v.keyword === 'type' && /^#\/oneOf\/\d+\/type$/.test(v.schemaPath ?? '')),
  );
  const seen = new Set<string>();
  const parts = (telling.length > 0 ? telling : failures)
    .map((v) => {
      const path = `${where}${(v.instancePath ?? '').replace(/\//g, '.')}`;
      const extra = v.params?.additionalProperty
        ? ` (${String(v.params.additionalProperty)})`
        : Array.isArray(v.params?.allowedValues)
          ? ` (one of ${(v.params.allowedValues as unknown[]).join(', ')})`
          : '';
      return truncate(`${path} ${v.message ?? 'is invalid'}${extra}`, 300);
    })
    .filter((p) => !seen.has(p) && seen.add(p));
  const shown = parts.slice(0, MAX_VALIDATION_PARTS);
  const more = parts.length > shown.length ? ` (and ${parts.length - shown.length} more)` : '';
  return `Invalid ${where}: ${shown.join('; ')}${more}.`;
}

export function sendError(reply: FastifyReply, error: unknown, request?: FastifyRequest): FastifyReply {
  const { status, body } = describeError(error);
  if (status >= 500 && body.error.code === 'INTERNAL') request?.log.error({ err: error }, 'request failed');
  if (status === 429 || status === 503) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
