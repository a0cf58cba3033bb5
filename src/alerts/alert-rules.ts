import { checkOptionKeys } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { AnyTableDef } from '../schema/define-table.js';

export type AlertSeverity = 'info' | 'warning' | 'critical';
const SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

interface RuleBase {
  /** Unique among the database's rules; names the alert in history, metrics and the webhook. */
  readonly name: string;
  /** Default 'warning'. */
  readonly severity?: AlertSeverity;
  /** The condition must hold this long before the alert fires. Default 0: at the first evaluation. */
  readonly forMs?: number;
}

/** A rule over a metric of the database's registry (a counter's rate, or a gauge's value). */
export interface MetricAlertRule extends RuleBase {
  /** A series name from /metrics; for a histogram, its `_count` or `_sum`. */
  readonly metric: string;
  /** Only samples with these labels are summed. Default: every sample of the metric. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Fire on the value summed over the matching samples. */
  readonly value?: { readonly above?: number; readonly below?: number };
  /** Fire on the increase per minute since the previous evaluation (counters). */
  readonly rate?: { readonly perMinuteAbove?: number; readonly perMinuteBelow?: number };
}

/** A rule over table data: rows matching `where` whose `time` column falls in the last `windowMs`. */
export interface TableAlertRule extends RuleBase {
  readonly table: AnyTableDef;
  readonly where?: Readonly<Record<string, unknown>>;
  /** The timestamp column the window applies to. Default `createdAt` (timestamps: true), else required. */
  readonly time?: string;
  readonly windowMs: number;
  readonly countAbove: number;
}

export type AlertRule = MetricAlertRule | TableAlertRule;

/** A rule checked once, with every default filled in. */
export type CheckedRule =
  | {
      readonly kind: 'metric';
      readonly name: string;
      readonly severity: AlertSeverity;
      readonly forMs: number;
      readonly metric: string;
      /** The registry's metric name (a histogram's `_count` / `_sum` read from their base). */
      readonly base: string;
      readonly labels: Readonly<Record<string, string>>;
      readonly mode: 'value' | 'rate';
      readonly above: number | undefined;
      readonly below: number | undefined;
    }
  | {
      readonly kind: 'table';
      readonly name: string;
      readonly severity: AlertSeverity;
      readonly forMs: number;
      readonly table: AnyTableDef;
      readonly where: Readonly<Record<string, unknown>>;
      readonly time: string;
      readonly windowMs: number;
      readonly countAbove: number;
    };

const METRIC_KEYS = ['name', 'severity', 'forMs', 'metric', 'labels', 'value', 'rate'];
const TABLE_KEYS = ['name', 'severity', 'forMs', 'table', 'where', 'time', 'windowMs', 'countAbove'];

type Fail = (message: string, value?: unknown) => never;
/** What every rule has, checked and defaulted. */
type RuleHead = Pick<CheckedRule, 'name' | 'severity' | 'forMs'>;

/** Checks the `alerts` option of open(): every mistake is CONFIG, naming the rule and the field. */
export function checkAlertRules(rules: readonly unknown[], tables: readonly AnyTableDef[]): CheckedRule[] {
  const names = new Set<string>();
  return rules.map((given, i) => checkRule(given, `alerts[${i}]`, names, tables));
}

function checkRule(given: unknown, at: string, names: Set<string>, tables: readonly AnyTableDef[]): CheckedRule {
  const fail: Fail = (message, value) => {
    throw new SluiceError('CONFIG', `${at}: ${message}`, { value });
  };
  if (given === null || typeof given !== 'object') return fail(`must be a rule object, got ${describeValue(given)}.`, given);
  const rule = given as Record<string, unknown>;
  if (typeof rule.name !== 'string' || rule.name.length === 0) fail(`needs a name, got ${describeValue(rule.name)}.`, rule.name);
  const name = rule.name as string;
  if (names.has(name)) fail(`the name "${name}" is used twice; alert names must be unique.`, name);
  names.add(name);
  const severity = (rule.severity ?? 'warning') as AlertSeverity;
  if (!SEVERITIES.includes(severity)) fail(`severity must be one of ${SEVERITIES.join(', ')}, got ${describeValue(rule.severity)}.`);
  const head: RuleHead = { name, severity, forMs: nonNegative(rule.forMs ?? 0, 'forMs', fail) };
  if ('metric' in rule) return checkMetricRule(rule, head, fail);
  if (!('table' in rule)) return fail('names neither a metric nor a table.');
  return checkTableRule(rule, head, tables, fail);
}

function checkMetricRule(rule: Record<string, unknown>, head: RuleHead, fail: Fail): CheckedRule {
  checkKeys(rule, head.name, METRIC_KEYS, fail);
  if (typeof rule.metric !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(rule.metric))
    fail(`metric must be a metric name, got ${describeValue(rule.metric)}.`);
  const metric = rule.metric as string;
  const value = rule.value as { above?: unknown; below?: unknown } | undefined;
  const rate = rule.rate as { perMinuteAbove?: unknown; perMinuteBelow?: unknown } | undefined;
  if ((value === undefined) === (rate === undefined))
    fail('give exactly one of value: { above | below } or rate: { perMinuteAbove | perMinuteBelow }.');
  const above = value ? value.above : rate?.perMinuteAbove;
  const below = value ? value.below : rate?.perMinuteBelow;
  if (above === undefined && below === undefined) fail('the condition names no threshold (above / below).');
  for (const threshold of [above, below]) {
    if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold)))
      fail(`a threshold must be a number, got ${describeValue(threshold)}.`, threshold);
  }
  const labels = (rule.labels ?? {}) as Record<string, string>;
  if (typeof labels !== 'object' || Object.values(labels).some((v) => typeof v !== 'string'))
    fail('labels must map label names to strings.');
  return {
    kind: 'metric',
    ...head,
    metric,
    base: metric.replace(/_(count|sum|bucket)$/, ''),
    labels,
    mode: value ? 'value' : 'rate',
    above: above as number | undefined,
    below: below as number | undefined,
  };
}

function checkTableRule(rule: Record<string, unknown>, head: RuleHead, tables: readonly AnyTableDef[], fail: Fail): CheckedRule {
  checkKeys(rule, head.name, TABLE_KEYS, fail);
  const table = rule.table as AnyTableDef;
  if (!tables.includes(table))
    fail(`its table ${describeValue((table as { name?: unknown })?.name)} is not among the tables passed to open().`);
  const time = (rule.time ?? (table.timestamps ? 'createdAt' : undefined)) as string | undefined;
  if (time === undefined || table.columnsByName.get(time)?.type !== 'timestamp') {
    fail(`time must name a timestamp column of ${table.name} (or the table needs timestamps: true), got ${describeValue(time)}.`, time);
  }
  const where = (rule.where ?? {}) as Record<string, unknown>;
  if (typeof where !== 'object' || where === null) fail(`where must be a filter object, got ${describeValue(rule.where)}.`);
  return {
    kind: 'table',
    ...head,
    table,
    where,
    time: time as string,
    windowMs: positive(rule.windowMs, 'windowMs', fail),
    countAbove: nonNegative(rule.countAbove, 'countAbove', fail),
  };
}

/** An unknown key is refused with the rule's own prefix, like every other mistake in it. */
function checkKeys(rule: Record<string, unknown>, name: string, keys: readonly string[], fail: Fail): void {
  try {
    checkOptionKeys(`alert rule "${name}"`, 'alerts', rule, keys);
  } catch (error) {
    fail((error as Error).message);
  }
}

function nonNegative(value: unknown, what: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(`${what} must be a number >= 0, got ${describeValue(value)}.`, value);
  return value as number;
}

function positive(value: unknown, what: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    fail(`${what} must be a number > 0, got ${describeValue(value)}.`, value);
  return value as number;
}
