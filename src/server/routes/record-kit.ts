import type { FastifyRequest } from 'fastify';
import { SluiceError } from '../../index.js';
import { type AnyTableDef, closestName, describeValue } from '../../internal.js';
import { withDeadline } from '../deadline.js';
import { HttpError } from '../http-errors.js';
import { type JsonTable, jsonTable } from '../json-table.js';
import { RowBodies } from '../row-body.js';
import type { ServerContext } from '../server-context.js';
import { encodeRow, type JsonSchema, type TableSchemas } from '../table-schemas.js';

export interface KeyParams {
  key: string;
}
export interface WriteQuery {
  priority?: 'high' | 'normal' | 'low';
}

export const PRIORITY = { type: 'string', enum: ['high', 'normal', 'low'], description: 'The write lane. Default normal.' };

/** Names longer than this get no "did you mean": comparing a megabyte-long name costs more than the hint is worth. */
const MAX_HINTED_NAME = 128;

/** What every records route of one table shares: its handle, key, limits and how rows go out. */
export interface RecordKit {
  readonly ctx: ServerContext;
  readonly def: AnyTableDef;
  readonly schemas: TableSchemas;
  /** `/api/v1/tables/{table}`. */
  readonly base: string;
  readonly tags: string[];
  readonly keyParam: JsonSchema;
  table(): JsonTable;
  writeOptions(request: FastifyRequest<{ Querystring: WriteQuery }>): { timeoutMs: number; priority?: WriteQuery['priority'] };
  /** A read under the request deadline. */
  read<T>(work: Promise<T>, what: string): Promise<T>;
  rowOut(row: unknown): unknown;
  /** A row's JSON body and ETag, for the routes that answer with one row (GET and PATCH by key). */
  readonly bodies: RowBodies;
  notFound(key: string): HttpError;
}

export function recordKit(ctx: ServerContext, def: AnyTableDef, schemas: TableSchemas): RecordKit {
  const { requestTimeoutMs } = ctx.options;
  return {
    ctx,
    def,
    schemas,
    base: `/api/v1/tables/${def.name}`,
    tags: [def.name],
    keyParam: {
      type: 'object',
      properties: {
        key: {
          type: 'string',
          description:
            def.primaryKey.length === 1
              ? `The ${def.primaryKey[0]!.name} of the row (URL-encoded).`
              : `The key (${def.primaryKey.map((c) => c.name).join(', ')}) as a JSON array, URL-encoded.`,
        },
      },
      required: ['key'],
    },
    table: () => jsonTable(ctx.db, def),
    writeOptions: (request) => ({
      timeoutMs: requestTimeoutMs,
      ...(request.query.priority ? { priority: request.query.priority } : {}),
    }),
    read: (work, what) => withDeadline(work, requestTimeoutMs, what),
    rowOut: (row) => encodeRow(def, row),
    bodies: new RowBodies(def),
    notFound: (key) => new HttpError(404, 'NOT_FOUND', `${def.name} has no row with key ${JSON.stringify(key)}.`),
  };
}

/**
 * Refuses a name that is not a column before the schema's own check, with the table's columns
 * and a hint; stops at the first, so a body of a million unknown names costs one.
 */
export function refuseUnknownColumns(def: AnyTableDef, row: unknown, where: string): void {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) return;
  for (const name in row) {
    if (def.columnsByName.has(name)) continue;
    const known = [...def.columnsByName.keys()];
    const hint = name.length <= MAX_HINTED_NAME ? closestName(name, known) : undefined;
    throw new SluiceError(
      'VALIDATION',
      `${where}: ${def.name} has no column ${describeValue(name)}${hint ? `; did you mean "${hint}"?` : '.'} Known columns: ${known.join(', ')}.`,
      { table: def.name, column: name.slice(0, MAX_HINTED_NAME) },
    );
  }
}
