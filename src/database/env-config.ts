import { editDistance } from '../core/did-you-mean.js';
import { closestName, SluiceError } from '../core/sluice-error.js';
import type { OpenOptions } from './open-options.js';

/** Where an effective value came from, strongest first. */
export type ConfigSource = 'option' | 'environment' | 'profile' | 'default';

export type Profile = 'low' | 'normal' | 'high';

/**
 * Seed 001's three server classes, set together: rows per sync batch and the pending cap that
 * stops writers, how long a change may wait, and the gate's queue and the derived-value cache
 * scaled with them. Its low / normal / high-end tables: batch 2,000 / 5,000 / 10,000, interval
 * 15 / 30 / 60 s, pending cap 50k / 100k / 200k.
 */
export const PROFILES: Readonly<Record<Profile, Readonly<Record<string, number>>>> = {
  low: {
    'sync.batchSize': 2000,
    'sync.intervalMs': 15_000,
    'sync.maxPending': 50_000,
    'gate.maxQueue': 25_000,
    'cache.derivedMaxEntries': 2000,
  },
  normal: {
    'sync.batchSize': 5000,
    'sync.intervalMs': 30_000,
    'sync.maxPending': 100_000,
    'gate.maxQueue': 100_000,
    'cache.derivedMaxEntries': 10_000,
  },
  high: {
    'sync.batchSize': 10_000,
    'sync.intervalMs': 60_000,
    'sync.maxPending': 200_000,
    'gate.maxQueue': 200_000,
    'cache.derivedMaxEntries': 50_000,
  },
};

type Kind = 'string' | 'integer' | 'number' | 'boolean';

/** Every variable Sluice reads, the option it sets, and how its text is read. */
export const VARIABLES: Readonly<Record<string, { readonly path: string; readonly kind: Kind }>> = {
  SLUICE_URL: { path: 'url', kind: 'string' },
  SLUICE_DURABILITY: { path: 'durability', kind: 'string' },
  SLUICE_SLOW_MS: { path: 'slowMs', kind: 'number' },
  SLUICE_LOG_PARAMS: { path: 'logParams', kind: 'boolean' },
  SLUICE_GATE_MAX_QUEUE: { path: 'gate.maxQueue', kind: 'integer' },
  SLUICE_GATE_MAX_BATCH: { path: 'gate.maxBatch', kind: 'integer' },
  SLUICE_GATE_DEADLINE_MS: { path: 'gate.deadlineMs', kind: 'integer' },
  SLUICE_POSTGRES_POOLER: { path: 'postgres.pooler', kind: 'string' },
  SLUICE_POSTGRES_SCHEMA: { path: 'postgres.schema', kind: 'string' },
  SLUICE_SYNC_TARGET: { path: 'sync.target', kind: 'string' },
  SLUICE_SYNC_FLAVOR: { path: 'sync.flavor', kind: 'string' },
  SLUICE_SYNC_SCHEMA: { path: 'sync.schema', kind: 'string' },
  SLUICE_SYNC_BATCH_SIZE: { path: 'sync.batchSize', kind: 'integer' },
  SLUICE_SYNC_INTERVAL_MS: { path: 'sync.intervalMs', kind: 'integer' },
  SLUICE_SYNC_MAX_PENDING: { path: 'sync.maxPending', kind: 'integer' },
  SLUICE_SYNC_DRAIN_MS: { path: 'sync.drainMs', kind: 'integer' },
  SLUICE_REDIS_URL: { path: 'cache.redisUrl', kind: 'string' },
  SLUICE_CACHE_STALE_BOUND_MS: { path: 'cache.staleBoundMs', kind: 'integer' },
  SLUICE_CACHE_KEY_PREFIX: { path: 'cache.keyPrefix', kind: 'string' },
  SLUICE_ALERT_WEBHOOK: { path: 'alertWebhook', kind: 'string' },
};

/** Variables read elsewhere (the CLI, the server, the test suite): known, so never "misspelt". */
const READ_ELSEWHERE = [
  'SLUICE_PROFILE',
  'SLUICE_SCHEMA',
  'SLUICE_API_TOKEN',
  'SLUICE_READ_TOKEN',
  'SLUICE_TEST_POSTGRES_URL',
  'SLUICE_TEST_REDIS_URL',
  'SLUICE_REQUIRE_SERVICES',
  'SLUICE_PYTHON',
];

/** What a value would be without options or variables: open()'s defaults for the values a profile or variable sets. */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  url: undefined,
  durability: 'process-crash',
  slowMs: 1000,
  logParams: false,
  'gate.maxQueue': 100_000,
  'gate.maxBatch': 4096,
  'gate.deadlineMs': 30_000,
  'sync.flavor': 'postgres',
  'sync.batchSize': 5000,
  'sync.intervalMs': 1000,
  'sync.maxPending': 100_000,
  'sync.drainMs': 5000,
  'cache.staleBoundMs': 1000,
  'cache.keyPrefix': 'sluice:',
  'cache.derivedMaxEntries': 10_000,
};

export interface EffectiveConfig {
  /** Options for open(): explicit ones, over variables, over the profile. */
  readonly options: OpenOptions;
  /** Every value a variable, profile or option can set, with where it came from. */
  readonly values: readonly { readonly path: string; readonly value: unknown; readonly source: ConfigSource; readonly variable?: string }[];
  readonly profile: Profile | undefined;
}

/**
 * open()'s options from the environment: `open(fromEnv({ tables }))`. Explicit options beat
 * `SLUICE_*` variables, which beat `SLUICE_PROFILE`'s values, which beat open()'s defaults. A
 * variable that does not parse is CONFIG naming it and its value; a misspelt `SLUICE_` variable
 * is CONFIG with the name it was probably meant to be. open() checks the result as it checks any
 * options, with the same messages.
 */
export function fromEnv(explicit: Partial<OpenOptions> = {}, env: NodeJS.ProcessEnv = process.env): OpenOptions {
  return resolveEnvConfig(explicit, env).options;
}

export function resolveEnvConfig(explicit: Partial<OpenOptions> = {}, env: NodeJS.ProcessEnv = process.env): EffectiveConfig {
  checkNames(env);
  const profile = readProfile(env.SLUICE_PROFILE);
  const layered = new Map<string, { value: unknown; source: ConfigSource; variable?: string }>();
  for (const [path, value] of Object.entries(DEFAULTS)) if (value !== undefined) layered.set(path, { value, source: 'default' });
  if (profile) for (const [path, value] of Object.entries(PROFILES[profile])) layered.set(path, { value, source: 'profile' });
  for (const [variable, { path, kind }] of Object.entries(VARIABLES)) {
    const text = env[variable];
    if (text === undefined || text === '') continue;
    layered.set(path, { value: parse(variable, text, kind), source: 'environment', variable });
  }
  for (const path of [...Object.keys(DEFAULTS), ...Object.values(VARIABLES).map((v) => v.path)]) {
    const given = get(explicit as Record<string, unknown>, path);
    if (given !== undefined) layered.set(path, { value: given, source: 'option' });
  }
  // Defaults stay open()'s own business: only what a profile, a variable or an option set is passed on.
  const options: Record<string, unknown> = structuredCloneOptions(explicit);
  for (const [path, entry] of layered) {
    if (entry.source === 'default' || entry.source === 'option') continue;
    // Sync settings without a target (explicit or SLUICE_SYNC_TARGET) would switch nothing on.
    if (path.startsWith('sync.') && path !== 'sync.target' && !layered.has('sync.target') && explicit.sync === undefined) continue;
    set(options, path, entry.value);
  }
  const values = [...layered].map(([path, entry]) => ({ path, ...entry })).sort((a, b) => a.path.localeCompare(b.path));
  return { options: options as OpenOptions, values, profile };
}

function checkNames(env: NodeJS.ProcessEnv): void {
  const known = [...Object.keys(VARIABLES), ...READ_ELSEWHERE];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SLUICE_') || known.includes(name)) continue;
    const closest = closestName(name, known);
    // Far from every name Sluice reads: someone else's variable, not a typo of ours.
    if (closest === undefined || editDistance(name, closest) > 3) continue;
    throw new SluiceError(
      'CONFIG',
      `The environment sets ${name}, which Sluice does not read; did you mean ${closest}? Rename it, or unset it.`,
      {
        value: name,
      },
    );
  }
}

function readProfile(text: string | undefined): Profile | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'low' || text === 'normal' || text === 'high') return text;
  throw new SluiceError('CONFIG', `SLUICE_PROFILE=${JSON.stringify(text)} is not a profile; use low, normal or high.`, { value: text });
}

function parse(variable: string, text: string, kind: Kind): unknown {
  if (kind === 'string') return text;
  if (kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    throw new SluiceError('CONFIG', `${variable}=${JSON.stringify(text)} is not a boolean; use true or false.`, { value: text });
  }
  const value = Number(text.replaceAll('_', ''));
  if (text.trim() === '' || !Number.isFinite(value) || (kind === 'integer' && !Number.isInteger(value))) {
    throw new SluiceError('CONFIG', `${variable}=${JSON.stringify(text)} is not ${kind === 'integer' ? 'a whole number' : 'a number'}.`, {
      value: text,
    });
  }
  return value;
}

function get(object: Record<string, unknown>, path: string): unknown {
  let at: unknown = object;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

function set(object: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = object;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    at[part] = next !== null && typeof next === 'object' ? { ...(next as object) } : {};
    at = at[part] as Record<string, unknown>;
  }
  at[parts[parts.length - 1] as string] = value;
}

/** A shallow copy whose option groups are copied too, so filling them never changes the caller's object. */
function structuredCloneOptions(explicit: Partial<OpenOptions>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...explicit };
  for (const group of ['gate', 'sync', 'cache', 'postgres'] as const) {
    const value = (explicit as Record<string, unknown>)[group];
    if (value !== null && typeof value === 'object') copy[group] = { ...(value as object) };
  }
  return copy;
}
