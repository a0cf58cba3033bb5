import type { ColumnType } from './column-types.js';

/**
 * How one dialect stores each column type. `encode` takes a value already checked by the row
 * codec; `decode` is null where the driver's value is already the one callers get.
 */
export interface ValueCodec {
  readonly encode: Readonly<Record<ColumnType, (value: unknown) => unknown>>;
  readonly decode: Readonly<Record<ColumnType, ((value: unknown) => unknown) | null>>;
}
