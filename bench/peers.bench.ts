import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ratio, scratchDir, settle } from './support/measure.js';
import { INSERT_CALLERS, INSERT_ROWS, peerInserts } from './support/peer-inserts.js';
import { CALLERS_PER_PROCESS, SHARED_PROCESSES, type SharedFileRound, sharedFileRound } from './support/peer-processes.js';
import { type Contender, PEER_BUSY_TIMEOUT_MS, SLUICE_WAL_AUTOCHECKPOINT } from './support/peer-writers.js';
import { type Budget, type Comparison, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';
import { createSchema } from './support/sqlite-files.js';

const SHORT: Record<Contender, string> = { sluice: 'Sluice', drizzle: 'Drizzle', typeorm: 'TypeORM', 'typeorm-queued': 'TypeORM' };
const NAMES: Record<Contender, string> = {
  sluice: 'Sluice',
  drizzle: 'Drizzle',
  typeorm: 'TypeORM (64 concurrent transaction() calls, as written)',
  'typeorm-queued': 'TypeORM (transaction() calls queued one at a time)',
};

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('peers');
  let fileNo = 0;
  const freshFile = () => scratch.file(`peers-${fileNo++}.db`);
  const loadBefore = loadavg()[0] as number;
  try {
    // A: each contender twice, in A B C C B A order, so load drifting during the run tilts none of them.
    const order = ['sluice', 'drizzle', 'typeorm', 'typeorm', 'drizzle', 'sluice'] as const;
    const inserts: Record<'sluice' | 'drizzle' | 'typeorm', number[]> = { sluice: [], drizzle: [], typeorm: [] };
    for (const contender of order) {
      const file = freshFile();
      await createSchema(file);
      inserts[contender].push(await peerInserts(contender, file));
      await settle();
    }
    const meanInserts = (c: keyof typeof inserts) => mean(inserts[c]);
    // B: one round each; the 10× goal is far wider than the drift between rounds.
    const rounds: Partial<Record<Contender, SharedFileRound>> = {};
    for (const contender of ['sluice', 'drizzle', 'typeorm-queued', 'typeorm'] as const) {
      rounds[contender] = await sharedFileRound(contender, freshFile(), budget);
      await settle(500);
    }
    const loadAfter = loadavg()[0] as number;
    const shared = rounds as Record<Contender, SharedFileRound>;

    const bestInsertPeer = best(['drizzle', 'typeorm'], meanInserts);
    const bestSharedPeer = best(['drizzle', 'typeorm-queued', 'typeorm'], (c) => shared[c].opsPerSecond);
    const sluiceA = meanInserts('sluice');
    const sluiceB = shared.sluice.opsPerSecond;
    const vsPeer = (unit: string, sluice: number, peer: number, measure: string, goal = false): Comparison => {
      const r = ratio(sluice, peer);
      // A peer that completed nothing has no meaningful ratio; its failures are in the measure text.
      return {
        measure,
        unit,
        sluice,
        raw: peer,
        ...(peer > 0 ? { ratio: r } : {}),
        ...(goal ? { goal: goalAtLeast(r, 10, '≥ 10× best peer') } : {}),
      };
    };
    const busyOf = (c: Contender) => `${shared[c].busy}`;
    return {
      id: 'peers',
      title: 'SQLite: Sluice against the ORMs users would pick instead (Drizzle, TypeORM; better-sqlite3 under all three)',
      comparisons: [
        vsPeer(
          'rows/s',
          sluiceA,
          meanInserts(bestInsertPeer),
          `A: ${INSERT_ROWS.toLocaleString('en')} inserts, ${INSERT_CALLERS.toLocaleString('en')} awaiting callers, vs best peer (${SHORT[bestInsertPeer]})`,
          true,
        ),
        vsPeer('rows/s', sluiceA, meanInserts('drizzle'), 'A: insert vs Drizzle `await db.insert(t).values(row)`'),
        vsPeer('rows/s', sluiceA, meanInserts('typeorm'), 'A: insert vs TypeORM `await repository.insert(row)`'),
        vsPeer(
          'ops/s',
          sluiceB,
          shared[bestSharedPeer].opsPerSecond,
          `B: ${SHARED_PROCESSES} processes × ${CALLERS_PER_PROCESS} callers, half inserts, half status changes, vs best peer (${NAMES[bestSharedPeer]}); SQLITE_BUSY surfaced: Sluice ${busyOf('sluice')}, peer ${busyOf(bestSharedPeer)}`,
          true,
        ),
        vsPeer(
          'ops/s',
          sluiceB,
          shared.drizzle.opsPerSecond,
          `B: vs Drizzle, one \`db.transaction()\` per op; SQLITE_BUSY surfaced: ${busyOf('drizzle')}`,
        ),
        vsPeer(
          'ops/s',
          sluiceB,
          shared['typeorm-queued'].opsPerSecond,
          `B: vs TypeORM, one \`dataSource.transaction()\` per op, queued; SQLITE_BUSY surfaced: ${busyOf('typeorm-queued')}`,
        ),
        vsPeer(
          'ops/s',
          sluiceB,
          shared.typeorm.opsPerSecond,
          `B: vs TypeORM, one \`dataSource.transaction()\` per op, as written; failed: ${shared.typeorm.busy + shared.typeorm.otherErrors}`,
        ),
      ],
      notes: [
        'The raw column holds the peer each line names; the ratio is Sluice ÷ that peer.',
        `Peers open the file with the PRAGMAs Sluice's writer sets (journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON, cache_size 64 MiB, temp_store=MEMORY, wal_autocheckpoint=${SLUICE_WAL_AUTOCHECKPOINT}) through openRaw's settings (Drizzle is handed that connection; TypeORM applies them in prepareDatabase), plus busy_timeout ${PEER_BUSY_TIMEOUT_MS} ms as a hand-written app would set it (TypeORM's own default is the same). All three write into the same STRICT DDL, created by Sluice, in the same storage form (epoch-ms integers, JSON text). Versions: drizzle-orm ${version('drizzle-orm')}, typeorm ${version('typeorm')}.`,
        `A: a fixed ${INSERT_ROWS.toLocaleString('en')} rows, timed from the first call to the last acknowledgement, each caller awaiting its own insert before the next; every run on a fresh file, checked to hold all ${INSERT_ROWS.toLocaleString('en')} rows. Means of two runs in the order Sluice, Drizzle, TypeORM, TypeORM, Drizzle, Sluice — single runs: Sluice ${runs(inserts.sluice)}; Drizzle ${runs(inserts.drizzle)}; TypeORM ${runs(inserts.typeorm)} rows/s. Neither peer batches: each insert is its own autocommit transaction, while Sluice's writer commits whatever is waiting as one transaction.`,
        `B: ${SHARED_PROCESSES} node processes on one file, ${CALLERS_PER_PROCESS} callers each, ${budget.warmupSeconds} s warm-up then ${budget.measureSeconds} s measured; every other op moves a row the same process inserted earlier pending → downloading → completed by compare-and-set on transfer_status (Sluice: \`transition(key, to, { from })\`; peers: UPDATE … WHERE path = ? AND transfer_status = ?), the rest insert new rows (Sluice: \`insert\`). Insert share of the counted ops — ${shares(shared)}. A failed op is counted, not retried, and not in ops/s. Rounds ran once each in the order Sluice, Drizzle, TypeORM queued, TypeORM as written.`,
        `B errors surfaced to callers (SQLITE_BUSY / other) — ${errors(shared)}. Acknowledged writes missing from the file afterwards — ${lost(shared)}.${typeormFailure(shared.typeorm)}`,
        `Drizzle's better-sqlite3 transactions are synchronous (the driver blocks the event loop for BEGIN … COMMIT, including while busy_timeout waits for another process), so its ${CALLERS_PER_PROCESS} callers per process run one at a time; TypeORM's run asynchronously on its single query runner, which is why concurrent ones collide unless the app queues them.`,
        `Load average (1 min) ${loadBefore.toFixed(2)} before the scenario and ${loadAfter.toFixed(2)} after, on ${cpus().length} cores: B's ${SHARED_PROCESSES} processes share them.`,
      ],
    };
  } finally {
    scratch.remove();
  }
}

function best<C extends Contender>(peers: readonly C[], figureOf: (c: C) => number): C {
  return peers.reduce((a, b) => (figureOf(b) > figureOf(a) ? b : a));
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function runs(values: readonly number[]): string {
  return values.map((v) => Math.round(v).toLocaleString('en')).join(' and ');
}

function shares(rounds: Record<Contender, SharedFileRound>): string {
  return (Object.keys(rounds) as Contender[]).map((c) => `${NAMES[c]} ${(rounds[c].insertShare * 100).toFixed(1)}%`).join('; ');
}

function errors(rounds: Record<Contender, SharedFileRound>): string {
  return (Object.keys(rounds) as Contender[])
    .map(
      (c) =>
        `${NAMES[c]}: ${rounds[c].busy} / ${rounds[c].otherErrors}${rounds[c].notApplied ? `, ${rounds[c].notApplied} not applied` : ''}`,
    )
    .join('; ');
}

function lost(rounds: Record<Contender, SharedFileRound>): string {
  return (Object.keys(rounds) as Contender[]).map((c) => `${NAMES[c]}: ${rounds[c].lost}`).join('; ');
}

function typeormFailure(round: SharedFileRound): string {
  if (!round.firstOtherError) return '';
  return ` TypeORM as written failed with "${round.firstOtherError}": its better-sqlite3 driver has one query runner, so concurrent \`transaction()\` calls issue BEGIN on a connection already inside one (typeorm/typeorm#8668); the queued round is the workaround an app must add.`;
}

function version(pkg: string): string {
  return (JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
}
