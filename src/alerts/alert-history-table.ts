import { defineSluiceTable } from '../schema/define-table.js';

/** How long fired and resolved alerts are kept: a month of history outlives the incidents it records. */
export const ALERT_HISTORY_MAX_AGE_MS = 30 * 24 * 3600_000;

/**
 * Every alert that fired or resolved, one row per event, written at low priority through the
 * gate; retention trims it like any table. `instance` tells apart processes that evaluate the
 * same rules against one database.
 */
export const alertHistoryTable = defineSluiceTable('_sluice_alert_history', {
  columns: {
    id: 'text',
    rule: 'text',
    severity: 'text',
    state: 'text',
    value: 'real?',
    message: 'text',
    at: 'timestamp',
    instance: 'text',
  },
  primaryKey: 'id',
  indexes: [['at'], ['rule', 'at']],
  retention: { column: 'at', maxAgeMs: ALERT_HISTORY_MAX_AGE_MS },
});
