import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import type { Table } from '../api/table.js';
import { SluiceError } from '../core/sluice-error.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { alertHistoryTable } from './alert-history-table.js';
import type { AlertSeverity, CheckedRule } from './alert-rules.js';
import { type AlertEvent, AlertWebhook } from './alert-webhook.js';

/** One rule as the last evaluation left it. */
export interface AlertStatus {
  readonly name: string;
  readonly severity: AlertSeverity;
  /** ok: the condition does not hold; pending: it holds, not yet for `forMs`; firing. */
  readonly state: 'ok' | 'pending' | 'firing';
  /** The measured value (a sum, a rate per minute, a row count); null before the first evaluation. */
  readonly value: number | null;
  /** When the current state began (firing: when it fired). */
  readonly since: Date | null;
  readonly lastEvaluatedAt: Date | null;
  /** Why the last evaluation failed (a missing metric, a refused query), if it did. */
  readonly lastError: string | null;
}

/** `db.alerts`. */
export interface AlertsApi {
  status(): AlertStatus[];
  /** The rules firing now. */
  firing(): AlertStatus[];
  /** Evaluates every rule now (the timer does it every `alertIntervalMs`). */
  evaluate(): Promise<AlertStatus[]>;
  /** Fired and resolved events, newest first. */
  history(options?: { limit?: number; rule?: string }): Promise<AlertHistoryEntry[]>;
}

export interface AlertHistoryEntry {
  rule: string;
  severity: string;
  state: string;
  value: number | null;
  message: string;
  at: Date;
  instance: string;
}

export interface AlertsParts {
  readonly rules: readonly CheckedRule[];
  readonly registry: Registry;
  readonly table: (definition: AnyTableDef) => Table<AnyTableDef>;
  readonly history: Table<typeof alertHistoryTable>;
  readonly intervalMs: number;
  readonly webhook: string | undefined;
  readonly onError: (error: unknown) => void;
}

interface RuleState {
  state: 'ok' | 'pending' | 'firing';
  value: number | null;
  since: number | null;
  lastEvaluatedAt: number | null;
  lastError: string | null;
  /** The previous sample of a rate rule: value and when it was read. */
  sample: { value: number; at: number } | undefined;
}

/**
 * Evaluates alert rules on a timer: over the database's own metrics (seed 000's conflict alert)
 * and over table data (seed 003's violation counts). A rule fires once its condition has held
 * for `forMs` and resolves when it stops; each change is a row in the alert history, a value of
 * `sluice_alerts_firing`, and a POST to the webhook, none of which a write ever waits for.
 */
export class Alerts implements AlertsApi {
  readonly #parts: AlertsParts;
  readonly #states = new Map<string, RuleState>();
  readonly #instance = `${hostname()}-${process.pid}`;
  readonly #webhook: AlertWebhook | undefined;
  readonly #firingGauge: Gauge<'rule' | 'severity'>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<AlertStatus[]> | undefined;

  constructor(parts: AlertsParts) {
    this.#parts = parts;
    for (const rule of parts.rules) {
      this.#states.set(rule.name, { state: 'ok', value: null, since: null, lastEvaluatedAt: null, lastError: null, sample: undefined });
    }
    this.#webhook =
      parts.webhook === undefined
        ? undefined
        : new AlertWebhook({ url: parts.webhook, timeoutMs: 5000, attempts: 5, maxQueue: 1000 }, parts.onError);
    this.#firingGauge = new Gauge({
      name: 'sluice_alerts_firing',
      help: 'Alert rules firing now (1) or not (0), by rule and severity.',
      labelNames: ['rule', 'severity'],
      registers: [parts.registry],
    });
    for (const rule of parts.rules) this.#firingGauge.set({ rule: rule.name, severity: rule.severity }, 0);
  }

  start(): void {
    if (this.#parts.rules.length === 0 || this.#parts.intervalMs === 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.evaluate().catch(this.#parts.onError), this.#parts.intervalMs);
    this.#timer.unref();
  }

  status(): AlertStatus[] {
    return this.#parts.rules.map((rule) => this.#status(rule));
  }

  firing(): AlertStatus[] {
    return this.status().filter((s) => s.state === 'firing');
  }

  /** One evaluation at a time: a slow table count does not pile up behind the timer. */
  evaluate(): Promise<AlertStatus[]> {
    this.#running ??= this.#evaluateAll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async history(options: { limit?: number; rule?: string } = {}): Promise<AlertHistoryEntry[]> {
    const rows = await this.#parts.history.find({
      ...(options.rule === undefined ? {} : { where: { rule: options.rule } }),
      orderBy: '-at',
      limit: options.limit ?? 100,
    });
    return rows.map(({ id: _, ...entry }) => entry);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
    await this.#webhook?.close(2000);
  }

  async #evaluateAll(): Promise<AlertStatus[]> {
    const now = Date.now();
    for (const rule of this.#parts.rules) {
      const state = this.#states.get(rule.name) as RuleState;
      try {
        const value = await this.#measure(rule, state, now);
        state.lastError = null;
        state.lastEvaluatedAt = now;
        if (value !== undefined) await this.#advance(rule, state, value, now);
      } catch (error) {
        state.lastError = (error as Error).message;
        state.lastEvaluatedAt = now;
      }
    }
    return this.status();
  }

  /** The rule's value now; undefined for a rate's first sample, which has nothing to compare with. */
  async #measure(rule: CheckedRule, state: RuleState, now: number): Promise<number | undefined> {
    if (rule.kind === 'table') {
      const where = { $and: [rule.where, { [rule.time]: { $gte: new Date(now - rule.windowMs) } }] };
      return this.#parts.table(rule.table).count(where as never);
    }
    const metric = this.#parts.registry.getSingleMetric(rule.base);
    if (!metric) {
      throw new SluiceError(
        'CONFIG',
        `Alert rule "${rule.name}": no metric named ${rule.base} in this database's registry. Check the name against GET /metrics.`,
        { value: rule.base },
      );
    }
    const { values } = await metric.get();
    let sum = 0;
    for (const sample of values) {
      const name = (sample as { metricName?: string }).metricName ?? rule.base;
      if (name !== rule.metric) continue;
      const labels = sample.labels as Record<string, unknown>;
      if (Object.entries(rule.labels).every(([k, v]) => String(labels[k]) === v)) sum += sample.value;
    }
    if (rule.mode === 'value') return sum;
    const previous = state.sample;
    state.sample = { value: sum, at: now };
    if (!previous || now <= previous.at) return undefined;
    // A counter that went down was reset (a restart): count from zero.
    const increase = sum >= previous.value ? sum - previous.value : sum;
    return (increase / (now - previous.at)) * 60_000;
  }

  async #advance(rule: CheckedRule, state: RuleState, value: number, now: number): Promise<void> {
    state.value = value;
    const holds =
      rule.kind === 'table'
        ? value > rule.countAbove
        : (rule.above !== undefined && value > rule.above) || (rule.below !== undefined && value < rule.below);
    if (!holds) {
      if (state.state === 'firing') await this.#record(rule, 'resolved', value, now);
      if (state.state !== 'ok') {
        state.state = 'ok';
        state.since = now;
      }
      return;
    }
    if (state.state === 'ok') {
      state.state = 'pending';
      state.since = now;
    }
    if (state.state === 'pending' && now - (state.since ?? now) >= rule.forMs) {
      state.state = 'firing';
      state.since = now;
      await this.#record(rule, 'firing', value, now);
    }
  }

  async #record(rule: CheckedRule, event: 'firing' | 'resolved', value: number, now: number): Promise<void> {
    this.#firingGauge.set({ rule: rule.name, severity: rule.severity }, event === 'firing' ? 1 : 0);
    const message = describe(rule, event, value);
    const entry: AlertEvent = {
      rule: rule.name,
      state: event,
      severity: rule.severity,
      value,
      message,
      at: new Date(now).toISOString(),
      instance: this.#instance,
    };
    this.#webhook?.send(entry);
    try {
      await this.#parts.history.insert(
        {
          id: randomUUID(),
          rule: rule.name,
          severity: rule.severity,
          state: event,
          value,
          message,
          at: new Date(now),
          instance: this.#instance,
        },
        { priority: 'low' },
      );
    } catch (error) {
      this.#parts.onError(error);
    }
  }

  #status(rule: CheckedRule): AlertStatus {
    const s = this.#states.get(rule.name) as RuleState;
    return {
      name: rule.name,
      severity: rule.severity,
      state: s.state,
      value: s.value,
      since: s.since === null ? null : new Date(s.since),
      lastEvaluatedAt: s.lastEvaluatedAt === null ? null : new Date(s.lastEvaluatedAt),
      lastError: s.lastError,
    };
  }

  get webhookStats(): { delivered: number; failed: number; dropped: number; pending: number } | undefined {
    const w = this.#webhook;
    return w && { delivered: w.delivered, failed: w.failed, dropped: w.dropped, pending: w.pending };
  }
}

function describe(rule: CheckedRule, event: 'firing' | 'resolved', value: number): string {
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (rule.kind === 'table') {
    const limit = `${rule.countAbove} in ${Math.round(rule.windowMs / 1000)} s`;
    return event === 'firing'
      ? `${rule.name}: ${shown} ${rule.table.name} rows match within the window (limit ${limit})`
      : `${rule.name}: back to ${shown} ${rule.table.name} rows within the window (limit ${limit})`;
  }
  const what = rule.mode === 'rate' ? `${rule.metric} rises ${shown}/min` : `${rule.metric} = ${shown}`;
  const limits = [rule.above === undefined ? '' : `above ${rule.above}`, rule.below === undefined ? '' : `below ${rule.below}`]
    .filter(Boolean)
    .join(' or ');
  return event === 'firing' ? `${rule.name}: ${what} (fires ${limits})` : `${rule.name}: ${what}, no longer ${limits}`;
}
