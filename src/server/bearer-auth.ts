import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';
import { sha256 } from './sha256.js';

/** Hashing first gives equal-length inputs, so the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return sha256(value, 'buffer');
}

/** Checks `Authorization: Bearer <token>` against the write token and, for reads, the read token. */
export class BearerAuth {
  readonly #write: Buffer | undefined;
  readonly #read: Buffer | undefined;

  constructor(writeToken: string | undefined, readToken: string | undefined) {
    this.#write = writeToken === undefined ? undefined : digest(writeToken);
    this.#read = readToken === undefined ? undefined : digest(readToken);
  }

  get readsClosed(): boolean {
    return this.#read !== undefined;
  }

  get writesClosed(): boolean {
    return this.#write !== undefined;
  }

  /** Throws 401 unless the request may write. */
  requireWrite(request: FastifyRequest): void {
    if (this.#write === undefined) return;
    const given = presented(request);
    if (given === undefined) throw new HttpError(401, 'UNAUTHORIZED', 'This route writes: send Authorization: Bearer <token>.');
    if (!timingSafeEqual(digest(given), this.#write)) throw new HttpError(401, 'UNAUTHORIZED', 'The bearer token is not valid.');
  }

  /** Throws 401 unless the request may read (the write token reads too). */
  requireRead(request: FastifyRequest): void {
    if (this.#read === undefined) return;
    const given = presented(request);
    if (given === undefined)
      throw new HttpError(401, 'UNAUTHORIZED', 'Reads are closed on this server: send Authorization: Bearer <token>.');
    const hash = digest(given);
    const okRead = timingSafeEqual(hash, this.#read);
    const okWrite = this.#write !== undefined && timingSafeEqual(hash, this.#write);
    if (!okRead && !okWrite) throw new HttpError(401, 'UNAUTHORIZED', 'The bearer token is not valid.');
  }
}

function presented(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
