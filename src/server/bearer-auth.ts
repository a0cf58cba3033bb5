import * as crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-errors.js';

/** Node's one-shot digest (20.12 and later): every request to a closed server hashes its token. */
const oneShot: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** Hashing first gives equal-length inputs, so the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return oneShot ? oneShot('sha256', value, 'buffer') : crypto.createHash('sha256').update(value).digest();
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
    if (!crypto.timingSafeEqual(digest(given), this.#write)) throw new HttpError(401, 'UNAUTHORIZED', 'The bearer token is not valid.');
  }

  /** Throws 401 unless the request may read (the write token reads too). */
  requireRead(request: FastifyRequest): void {
    if (this.#read === undefined) return;
    const given = presented(request);
    if (given === undefined)
      throw new HttpError(401, 'UNAUTHORIZED', 'Reads are closed on this server: send Authorization: Bearer <token>.');
    const hash = digest(given);
    const okRead = crypto.timingSafeEqual(hash, this.#read);
    const okWrite = this.#write !== undefined && crypto.timingSafeEqual(hash, this.#write);
    if (!okRead && !okWrite) throw new HttpError(401, 'UNAUTHORIZED', 'The bearer token is not valid.');
  }
}

function presented(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
