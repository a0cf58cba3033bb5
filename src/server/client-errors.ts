import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyRequest } from 'fastify';
import { SluiceError } from '../index.js';
import { HttpError, truncate } from './http-errors.js';

/** The longest path segment (a key) the router takes. */
export const MAX_PARAM_LENGTH = 4096;

/** A request line longer than this that overflowed Node's header limit was a long URL: 414, not 431. */
const LONG_REQUEST_LINE = 8 * 1024;

/** What Node's clientError event carries: the parser's code and, for a parse error, the bytes it was parsing. */
type ClientError = Error & { code?: string; rawPacket?: unknown };

/**
 * Node's answers to a request it could not parse (headers too large, a request line too long,
 * not HTTP, too slow to arrive), written in the API's error shape. The connection is closed
 * after it, as Node itself does: what follows on it cannot be trusted.
 */
export function answerClientError(error: ClientError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = describeClientError(error);
  const body = JSON.stringify({ error: { code: 'VALIDATION', message } });
  if (socket.writable && socket.bytesWritten === 0) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function describeClientError(error: ClientError): { status: number; message: string } {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    if (requestLineTooLong(Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined)) {
      return {
        status: 414,
        message: 'The request line (method, path and query) is too long: send large filters in a body, or page with after.',
      };
    }
    return { status: 431, message: 'The request headers are larger than the server accepts (16 KiB in all).' };
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, message: 'The request did not arrive in full within the request timeout; send it again.' };
  }
  return { status: 400, message: `The request is not valid HTTP/1.1 (${String(error.code ?? 'parse error')}).` };
}

/** True when the bytes Node was parsing begin a request whose first line alone passes LONG_REQUEST_LINE. */
function requestLineTooLong(raw: Buffer | undefined): boolean {
  if (!raw || !/^[A-Z]+ /.test(raw.subarray(0, 16).toString('latin1'))) return false;
  const end = raw.indexOf('\r\n');
  return end === -1 ? raw.length > LONG_REQUEST_LINE : end > LONG_REQUEST_LINE;
}

/**
 * Fastify's own refusals before routing (a malformed %-escape, a path segment over
 * maxParamLength) as the errors the API answers with; anything else passes through unchanged.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest): unknown {
  const url = truncate(request.raw.url ?? '', 200);
  if (error.code === 'FST_ERR_BAD_URL') {
    return new SluiceError(
      'VALIDATION',
      `The URL ${JSON.stringify(url)} holds a malformed %-escape (a % not followed by two hex digits, or escapes that are not UTF-8): write a literal % as %25.`,
      { value: url },
    );
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new HttpError(
      414,
      'VALIDATION',
      `A path segment of ${JSON.stringify(url)} is longer than the server accepts (${MAX_PARAM_LENGTH} characters).`,
    );
  }
  return error;
}
