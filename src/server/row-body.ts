import type { FastifyReply } from 'fastify';
import type { AnyTableDef } from '../internal.js';
import { bodyEtag } from './row-etag.js';
import { encodeRow } from './table-schemas.js';

/** A row as the API sends it: its JSON, serialised once, and the entity tag of those bytes. */
export interface RowBody {
  readonly json: string;
  readonly etag: string;
}

/** What a row's JSON body goes out as (fastify's own default for JSON). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * One table's rows as response bodies. The body is serialised once, by the route's own
 * serializer (fast-json-stringify, compiled by fastify from the table's row schema), and the
 * ETag hashes that string: no second `JSON.stringify` for the tag, no second serialisation by
 * fastify. A row the cache handed out (frozen, shared by every reader until a write replaces it)
 * keeps its body beside it, so a cache hit costs neither.
 */
export class RowBodies {
  readonly #def: AnyTableDef;
  #serialize: ((row: unknown) => string) | undefined;
  /** Bodies of frozen (cached) rows, by the row object: a write makes a new row, so an entry never goes stale. */
  readonly #ofCached = new WeakMap<object, RowBody>();

  constructor(def: AnyTableDef) {
    this.#def = def;
  }

  /** The body of `row` (as the table returns it); `reply` is a route's whose 200 response schema is the table's row. */
  of(reply: FastifyReply, row: object): RowBody {
    const cached = Object.isFrozen(row);
    if (cached) {
      const body = this.#ofCached.get(row);
      if (body !== undefined) return body;
    }
    this.#serialize ??= (reply.getSerializationFunction('200') as ((row: unknown) => string) | undefined) ?? JSON.stringify;
    const json = this.#serialize(encodeRow(this.#def, row));
    const body: RowBody = { json, etag: bodyEtag(json) };
    if (cached) this.#ofCached.set(row, body);
    return body;
  }

  /** Sends `row` with its ETag; the route returns what this returns. */
  send(reply: FastifyReply, row: object): string {
    const { json, etag } = this.of(reply, row);
    reply.header('etag', etag).header('content-type', JSON_CONTENT_TYPE);
    return json;
  }
}
