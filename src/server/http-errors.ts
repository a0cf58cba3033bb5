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

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** Maps anything thrown by a route or by fastify to a status and `{ error: { code, message } }`. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
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

function validationMessage(e: { validation?: unknown[]; validationContext?: string; message?: string }): string {
  const where = e.validationContext ?? 'request';
  const seen = new Set<string>();
  const parts = (e.validation as { instancePath?: string; message?: string; params?: Record<string, unknown> }[]).map((v) => {
    const path = `${where}${(v.instancePath ?? '').replace(/\//g, '.')}`;
    const extra = v.params?.additionalProperty
      ? ` (${String(v.params.additionalProperty)})`
      : Array.isArray(v.params?.allowedValues)
        ? ` (one of ${(v.params.allowedValues as unknown[]).join(', ')})`
        : '';
    return `${path} ${v.message ?? 'is invalid'}${extra}`;
  });
  const unique = parts.filter(
    (p) => !p.endsWith('must match "else" schema') && !p.endsWith('must match "then" schema') && !seen.has(p) && seen.add(p),
  );
  return `Invalid ${where}: ${(unique.length > 0 ? unique : parts).join('; ')}.`;
}

export function sendError(reply: FastifyReply, error: unknown, request?: FastifyRequest): FastifyReply {
  const { status, body } = describeError(error);
  if (status >= 500 && body.error.code === 'INTERNAL') request?.log.error({ err: error }, 'request failed');
  if (status === 429 || status === 503) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
