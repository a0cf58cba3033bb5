import type { JsonSchema } from './table-schemas.js';

export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'What went wrong: code is stable (SluiceError codes, UNAUTHORIZED, INTERNAL), message names the cause',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};

/** A response header as the OpenAPI document declares it. */
export interface HeaderSpec {
  readonly description: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

/** The ETag a row's GET and PATCH answer with, for a later PATCH's If-Match. */
export const ETAG_HEADER: Record<string, HeaderSpec> = {
  ETag: {
    description: "The row's entity tag: send it as If-Match on a PATCH to apply it only while the row is unchanged.",
    required: true,
    schema: { type: 'string' },
  },
};

/** Every route documents and serialises its errors with the one shape. */
export const ERROR_RESPONSES = { '4xx': ERROR_SCHEMA, '5xx': ERROR_SCHEMA } as const;

declare module 'fastify' {
  /** What the OpenAPI document reads from a route's schema beyond validation. */
  interface FastifySchema {
    tags?: string[];
    summary?: string;
    /** Left out of the OpenAPI document (the dashboard's files). */
    hide?: boolean;
    /** Headers a response carries, by status, for the OpenAPI document (fastify does not check them). */
    responseHeaders?: Record<number, Record<string, HeaderSpec>>;
  }
}
