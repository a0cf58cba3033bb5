import { ratio } from './measure.js';

/** One line of a scenario's table: Sluice beside the raw driver, measured in the same run. */
export interface Comparison {
  readonly measure: string;
  readonly unit: string;
  readonly sluice: number;
  readonly raw?: number;
  /** Sluice ÷ raw. */
  readonly ratio?: number;
  readonly goal?: Goal;
}

export interface Goal {
  /** As the issue states it, e.g. "≥ 0.8× raw". */
  readonly text: string;
  readonly met: boolean;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly comparisons: readonly Comparison[];
  /** Conditions and observations that a reader needs to trust the figures. */
  readonly notes: readonly string[];
  /** Set when the scenario could not run; says why. */
  readonly skipped?: string;
}

export interface Budget {
  /** Seconds of untimed work before each measurement. */
  readonly warmupSeconds: number;
  /** Seconds each measurement runs. */
  readonly measureSeconds: number;
}

export function goalAtLeast(value: number, min: number, text: string): Goal {
  return { text, met: Number.isFinite(value) && value >= min };
}

export function goalAtMost(value: number, max: number, text: string): Goal {
  return { text, met: Number.isFinite(value) && value <= max };
}

/** A comparison whose goal is a floor on Sluice ÷ raw: the ratio is computed once, for both. */
export function comparedAtLeast(measure: string, unit: string, sluice: number, raw: number, min: number, goal: string): Comparison {
  const r = ratio(sluice, raw);
  return { measure, unit, sluice, raw, ratio: r, goal: goalAtLeast(r, min, goal) };
}
