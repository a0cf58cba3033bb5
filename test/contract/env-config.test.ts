import { describe, expect, it } from 'vitest';
import { defineTable, fromEnv, open, PROFILES, resolveEnvConfig } from '../../src/index.js';
import { tempDir } from '../support/databases.js';

const files = defineTable('backup_files', {
  columns: { backupSetId: 'integer', filePath: 'text' },
  primaryKey: ['backupSetId', 'filePath'],
  sync: true,
});

const resolvedValue = (env: NodeJS.ProcessEnv, path: string, explicit = {}) =>
  resolveEnvConfig(explicit, env).values.find((v) => v.path === path);

describe('configuration from the environment', () => {
  it('reads every variable into the option it names, parsed by type', () => {
    const env = {
      SLUICE_URL: 'sqlite:./x.db',
      SLUICE_DURABILITY: 'power-loss',
      SLUICE_SLOW_MS: '250',
      SLUICE_LOG_PARAMS: 'true',
      SLUICE_GATE_MAX_QUEUE: '5_000',
      SLUICE_GATE_MAX_BATCH: '512',
      SLUICE_GATE_DEADLINE_MS: '9000',
      SLUICE_SYNC_TARGET: 'postgres://u@h/db',
      SLUICE_SYNC_FLAVOR: 'opengauss',
      SLUICE_SYNC_SCHEMA: 'edge',
      SLUICE_SYNC_BATCH_SIZE: '2000',
      SLUICE_SYNC_INTERVAL_MS: '15000',
      SLUICE_SYNC_MAX_PENDING: '50000',
      SLUICE_SYNC_DRAIN_MS: '100',
      SLUICE_REDIS_URL: 'redis://r:6379',
      SLUICE_CACHE_STALE_BOUND_MS: '700',
      SLUICE_CACHE_KEY_PREFIX: 'app:',
      SLUICE_ALERT_WEBHOOK: 'http://127.0.0.1:9/hook',
    };
    expect(fromEnv({}, env)).toEqual({
      url: 'sqlite:./x.db',
      durability: 'power-loss',
      slowMs: 250,
      logParams: true,
      gate: { maxQueue: 5000, maxBatch: 512, deadlineMs: 9000 },
      sync: {
        target: 'postgres://u@h/db',
        flavor: 'opengauss',
        schema: 'edge',
        batchSize: 2000,
        intervalMs: 15_000,
        maxPending: 50_000,
        drainMs: 100,
      },
      cache: { redisUrl: 'redis://r:6379', staleBoundMs: 700, keyPrefix: 'app:' },
      alertWebhook: 'http://127.0.0.1:9/hook',
    });
  });

  it('ranks explicit options over variables over the profile over the defaults, and says which won', () => {
    const env = { SLUICE_PROFILE: 'high', SLUICE_SYNC_TARGET: 'postgres://h/db', SLUICE_SYNC_BATCH_SIZE: '3000' };
    expect(resolvedValue({}, 'sync.batchSize')).toMatchObject({ value: 5000, source: 'default' });
    expect(resolvedValue({ SLUICE_PROFILE: 'low' }, 'sync.batchSize')).toMatchObject({ value: 2000, source: 'profile' });
    expect(resolvedValue(env, 'sync.batchSize')).toMatchObject({ value: 3000, source: 'environment', variable: 'SLUICE_SYNC_BATCH_SIZE' });
    expect(resolvedValue(env, 'sync.batchSize', { sync: { batchSize: 7 } })).toMatchObject({ value: 7, source: 'option' });
    expect(resolvedValue(env, 'sync.maxPending')).toMatchObject({ value: 200_000, source: 'profile' });
    const options = fromEnv({ sync: { batchSize: 7 } }, env);
    expect(options.sync).toMatchObject({ target: 'postgres://h/db', batchSize: 7, intervalMs: 60_000, maxPending: 200_000 });
    expect(options.gate).toEqual({ maxQueue: PROFILES.high['gate.maxQueue'] });
    // A profile sets no sync option when nothing names a target: sync stays off.
    expect(fromEnv({}, { SLUICE_PROFILE: 'normal' }).sync).toBeUndefined();
  });

  it('refuses what does not parse and a misspelt variable, naming it', () => {
    expect(() => fromEnv({}, { SLUICE_SYNC_BATCH_SIZE: 'lots' })).toThrow(/SLUICE_SYNC_BATCH_SIZE="lots" is not a whole number/);
    expect(() => fromEnv({}, { SLUICE_PROFILE: 'huge' })).toThrow(/not a profile; use low, normal or high/);
    expect(() => fromEnv({}, { SLUICE_LOG_PARAMS: 'maybe' })).toThrow(/not a boolean/);
    expect(() => fromEnv({}, { SLUICE_SYNC_BATCHSIZE: '10' })).toThrow(/did you mean SLUICE_SYNC_BATCH_SIZE/);
    expect(() => fromEnv({}, { SLUICE_REDIS_UR: 'x' })).toThrow(/did you mean SLUICE_REDIS_URL/);
    // Someone else's variable, far from every name Sluice reads, is left alone.
    expect(() => fromEnv({}, { SLUICE_TEST_POSTGRES_URL: 'x', SLUICE_BUILD_NUMBER_FOR_CI: '12' })).not.toThrow();
  });

  it('hands open() values it checks with its own messages', async () => {
    const url = `sqlite:${tempDir()}/env.db`;
    await expect(open(fromEnv({ tables: [files] }, { SLUICE_URL: url, SLUICE_DURABILITY: 'forever' }))).rejects.toThrow(
      /Invalid option durability/,
    );
    await expect(open(fromEnv({ tables: [files] }, { SLUICE_URL: url, SLUICE_GATE_MAX_QUEUE: '0' }))).rejects.toThrow(
      /Invalid option gate.maxQueue/,
    );
  });

  it('opens with an unreachable sync target and Redis from the environment, degraded rather than failed', async () => {
    const dir = tempDir();
    const db = await open(
      fromEnv(
        { tables: [files] },
        {
          SLUICE_URL: `sqlite:${dir}/degraded.db`,
          SLUICE_PROFILE: 'low',
          SLUICE_SYNC_TARGET: 'postgres://nobody@127.0.0.1:1/none',
          SLUICE_REDIS_URL: 'redis://127.0.0.1:1',
          SLUICE_CACHE_STALE_BOUND_MS: '100',
        },
      ),
    );
    await db.migrate();
    await db.table(files).insert({ backupSetId: 1, filePath: '/a' });
    expect(db.sync.status()).toMatchObject({ target: 'down', pending: 1 });
    expect(db.stats().cache.l2.state).toBe('down');
    await db.close();
  });
});
