import type { ValueCodec } from '../../schema/value-codec.js';

/**
 * PostgreSQL has a native type for every column type, so most values pass through the driver as
 * they are. JSON travels as text both ways (the connection hands jsonb back unparsed, see
 * POSTGRES_TEXT_PARSERS) so that one codec decodes it the same way on both dialects.
 */
export const postgresCodec: ValueCodec = {
  encode: {
    text: (v) => v,
    integer: (v) => v,
    real: (v) => v,
    boolean: (v) => v,
    json: (v) => JSON.stringify(v),
    timestamp: (v) => v,
    blob: (v) =>
      Buffer.isBuffer(v) ? v : Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength),
  },
  decode: {
    text: null,
    integer: null,
    real: null,
    boolean: null,
    json: (v) => JSON.parse(v as string),
    timestamp: null,
    blob: null,
  },
};

const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;

/**
 * bigint holds every safe integer, so it comes back as a number; a larger value (only a foreign
 * writer can store one) stays a BigInt rather than silently losing digits.
 */
function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

const identity = (text: string) => text;

/**
 * Text-format parsers this dialect's connections use instead of the driver's defaults. They are
 * given to each pool and client, never installed globally, so another library in the same process
 * that uses the driver keeps its own behaviour.
 */
export const POSTGRES_TEXT_PARSERS: ReadonlyMap<number, (text: string) => unknown> = new Map<number, (text: string) => unknown>([
  [INT8, parseInt8],
  [JSON_OID, identity],
  [JSONB, identity],
]);
