import { beforeEach } from 'vitest';
import { redisAvailable, redisServerAvailable } from './services.js';

/*
 * One line at the top of a file or suite that needs Redis: its tests are reported as skipped,
 * beside the loud note services.ts prints, where Redis is missing, and fail the run under
 * SLUICE_REQUIRE_SERVICES=1 (CI), where nothing may be skipped.
 */

/** The shared Redis at SLUICE_TEST_REDIS_URL. */
export function needsSharedRedis(): void {
  beforeEach(async (context) => {
    if (!(await redisAvailable())) context.skip();
  });
}

/** redis-server on PATH, for the tests that start, stop and freeze a Redis of their own. */
export function needsRedisServer(title: string): void {
  beforeEach((context) => {
    if (!redisServerAvailable(title)) context.skip();
  });
}
