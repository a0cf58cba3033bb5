import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mediaFiles } from '../../src/cli/media-files-table.js';
import { openDatabase } from '../../src/cli/open-database.js';
import { BUILT_IN_SCHEMA } from '../../src/cli/schema-loader.js';
import { AckLog, readAckLog } from '../../src/cli/stress/ack-log.js';
import { verifyAcks } from '../../src/cli/stress/ack-verifier.js';
import type { NodeRole } from '../../src/cli/stress/stress-protocol.js';
import { runRole } from '../../src/cli/stress/stress-roles.js';
import { WorkerStats } from '../../src/cli/stress/worker-stats.js';
import { tempDir } from '../support/databases.js';

/**
 * The stress roles in this process, side by side on one file: what each stress writer process
 * runs, reached here directly so its failures show with a stack (and count in coverage).
 */
describe('stress roles in-process', () => {
  const dir = tempDir('sluice-stress-roles-');

  it('an ingester, a scheduler and a smoke checker for a second: every acknowledged write checks out', async () => {
    const url = `sqlite:${join(dir, 'roles.db')}`;
    const db = await openDatabase(url, BUILT_IN_SCHEMA);
    await db.migrate();
    const prefix = 'roles-run/';
    const endAt = Date.now() + 1000;
    const roles: NodeRole[] = ['ingester', 'scheduler', 'smoke'];
    const writers = roles.map((role) => ({ role, log: new AckLog(join(dir, `${role}.log`)), stats: new WorkerStats() }));
    try {
      await Promise.all(
        writers.map((w) =>
          runRole(w.role, {
            files: db.table(mediaFiles),
            log: w.log,
            stats: w.stats,
            name: w.role,
            prefix,
            running: () => Date.now() < endAt,
          }),
        ),
      );
      for (const w of writers) w.log.close();
      const checks = await verifyAcks(
        db.table(mediaFiles),
        prefix,
        roles.map((role) => readAckLog(join(dir, `${role}.log`))),
      );
      expect(checks).toMatchObject({
        lostWrites: 0,
        lostUpdates: 0,
        processedTwice: 0,
        claimedTwice: 0,
        staleSettlesApplied: 0,
        illegalStates: 0,
        conflictingAcks: 0,
        unacknowledgedChanges: 0,
      });
      expect(checks.pathsChecked).toBeGreaterThan(0);
      const [ingester, scheduler] = writers.map((w) => w.stats.summary(w.role, w.role, 1000, 0));
      expect(ingester?.acked).toBeGreaterThan(0);
      expect(scheduler?.claims).toBeGreaterThan(0);
      for (const w of writers) expect(w.stats.errors, `${w.role}: ${w.stats.errorSamples.join('; ')}`).toEqual({});
    } finally {
      await db.close();
    }
  }, 60_000);
});
