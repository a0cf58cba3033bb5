import { SluiceError } from '../core/sluice-error.js';
import type { JsRow } from '../schema/row-codec.js';
import type { WorkPlan } from './work-plan.js';

const LAST_ERROR_CHARS = 2000;

/** A claimed row a worker holds: its key and the claim's fencing token, which every settle carries. */
export interface InHand {
  readonly row: JsRow;
  readonly key: unknown;
  readonly token: number;
}

export function inHand(primaryKey: readonly { name: string }[], row: JsRow): InHand {
  const key =
    primaryKey.length === 1
      ? row[(primaryKey[0] as { name: string }).name]
      : Object.fromEntries(primaryKey.map((c) => [c.name, row[c.name]]));
  return { row, key, token: row.attempt as number };
}

/** What a handler's failure leaves in `lastError`: the error's name and message, cut to fit a column. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.length > LAST_ERROR_CHARS ? `${text.slice(0, LAST_ERROR_CHARS - 1)}…` : text;
}

/** The abort reason a handler sees when its lease lapsed and the row went to someone else. */
export function leaseLost(plan: WorkPlan, item: InHand): SluiceError {
  return new SluiceError(
    'CONFLICT',
    `The lease on ${plan.table} ${JSON.stringify(item.key)} (attempt ${item.token}) was lost: it lapsed and the row was handed back. Stop working on it; its settle will be refused.`,
    { table: plan.table, value: item.key },
  );
}

/** The abort reason a handler sees when stop()'s grace period ran out. */
export function stopping(plan: WorkPlan, item: InHand): SluiceError {
  return new SluiceError(
    'CLOSED',
    `The worker on ${plan.table} is stopping and its grace period (${plan.graceMs} ms) is over; finish ${JSON.stringify(item.key)} quickly or it is handed back.`,
    { table: plan.table, value: item.key },
  );
}
