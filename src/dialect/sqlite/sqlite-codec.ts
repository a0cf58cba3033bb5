import type { ValueCodec } from '../../schema/value-codec.js';

/** SQLite keeps booleans as 0/1, timestamps as epoch milliseconds and JSON as text. */
export const sqliteCodec: ValueCodec = {
  encode: {
    text: (v) => v,
    integer: (v) => v,
    real: (v) => v,
    boolean: (v) => (v ? 1 : 0),
    json: (v) => JSON.stringify(v),
    timestamp: (v) => (v as Date).getTime(),
    blob: (v) =>
      Buffer.isBuffer(v) ? v : Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength),
  },
  decode: {
    text: null,
    integer: null,
    real: null,
    boolean: (v) => v !== 0,
    json: (v) => JSON.parse(v as string),
    timestamp: (v) => new Date(v as number),
    blob: null,
  },
};
