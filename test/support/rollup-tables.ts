import { defineRollup, defineTable } from '../../src/index.js';

/** The detection table and its hourly rollup, shared by the multi-process rollup test and its writers. */
export const readings = defineTable('readings', {
  columns: { id: 'integer', camera: 'text', ts: 'timestamp', persons: 'integer' },
  primaryKey: 'id',
});

export const readingsHourly = defineRollup('readings_hourly', {
  from: readings,
  time: 'ts',
  every: 'hour',
  groupBy: ['camera'],
  measures: { frames: 'count', persons: { sum: 'persons' }, peak: { max: 'persons' }, low: { min: 'persons' } },
});

export const ROLLUP_HOUR = 3_600_000;
