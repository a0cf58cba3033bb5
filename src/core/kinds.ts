/** The databases Sluice speaks to; a dialect's `name` is one of these. */
export const DIALECT_NAMES = ['sqlite', 'postgres'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/**
 * What a resolved write survives. 'process-crash' (SQLite synchronous=NORMAL in WAL): a crash of
 * any process. 'power-loss' (synchronous=FULL): also an OS crash or a power cut.
 */
export const DURABILITIES = ['process-crash', 'power-loss'] as const;
export type Durability = (typeof DURABILITIES)[number];
