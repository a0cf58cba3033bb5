import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineTable, open, SluiceError } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { pgbouncerSupported, type ThrowawayPgBouncer, throwawayPgBouncer } from '../../support/throwaway-pgbouncer.js';
import { throwawayPostgres, throwawayPostgresSupported } from '../../support/throwaway-postgres.js';
import { type PoolerWorkerConfig, poolerJobs } from './support/pooler-jobs.js';

/*
 * PostgreSQL behind Debian's PgBouncer (1.18, no prepared-statement tracking) in transaction
 * mode, two server connections for every client: the statements of different clients and
 * processes meet on the same server connections, as in production behind a busy pooler.
 */

const JOBS = 3000;
const WORKERS = 3;

/** Records, in each row, what the transaction that inserted it ran with. */
const probes = defineTable('pooler_probes', {
  columns: { id: 'integer', commits: 'text?', path: 'text?', idle: 'text?', prepared: 'integer?', listens: 'integer?' },
  primaryKey: 'id',
});

const PROBE_TRIGGER = (schema: string) => `
  create function "${schema}".probe_settings() returns trigger language plpgsql as $$
  begin
    new.commits := current_setting('synchronous_commit');
    new.path := current_setting('search_path');
    new.idle := current_setting('idle_in_transaction_session_timeout');
    new.prepared := (select count(*) from pg_prepared_statements);
    new.listens := (select count(*) from pg_listening_channels());
    return new;
  end $$;
  create trigger probe_settings before insert on "${schema}".pooler_probes for each row execute function "${schema}".probe_settings();`;

/** Starts a worker process; `exit` resolves with its exit code. */
function start(args: string[]): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return { child, exit };
}

const supported = throwawayPostgresSupported() && pgbouncerSupported();

describe.skipIf(!supported)('PostgreSQL behind PgBouncer in transaction mode', () => {
  // The server's own default is off, so `on` inside a transaction proves Sluice set it there.
  const cluster = throwawayPostgres({ settings: { synchronous_commit: 'off' } });
  const serverPort = async () => ({ serverPort: (await cluster.get()).port });
  // Drops the startup parameters it does not know instead of refusing them, as operators often configure it.
  const bouncer = throwawayPgBouncer(async () => ({ ...(await serverPort()), settings: { ignore_startup_parameters: 'options' } }));
  const strictBouncer = throwawayPgBouncer(serverPort);
  const sessionBouncer = throwawayPgBouncer(async () => ({
    ...(await serverPort()),
    settings: { pool_mode: 'session', ignore_startup_parameters: 'options' },
  }));

  const schemaUrl = (through: ThrowawayPgBouncer, schema: string) => `${through.url()}?schema=${schema}`;

  it('refuses to open through a transaction pooler without the option, with CONFIG naming it', async () => {
    const refusals = [];
    for (const through of [await bouncer.get(), await strictBouncer.get()]) {
      const error = await open({ url: schemaUrl(through, 'detect'), tables: [poolerJobs] }).then(
        async (db) => {
          await db.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      refusals.push(error);
    }
    for (const error of refusals) {
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe('CONFIG');
      expect((error as SluiceError).message).toContain("postgres: { pooler: 'transaction' }");
    }
    // A pooler in session mode keeps one server connection per client, but this one drops the settings.
    const dropped = await open({ url: schemaUrl(await sessionBouncer.get(), 'detect'), tables: [poolerJobs] }).catch((e: unknown) => e);
    expect((dropped as SluiceError).code).toBe('CONFIG');
    expect((dropped as SluiceError).message).toContain('search_path');
    // A direct connection opens as always, and so does the pooler with the option.
    const direct = await open({ url: `${(await cluster.get()).url}?schema=detect`, tables: [poolerJobs] });
    await direct.close();
    const declared = await open({
      url: schemaUrl(await bouncer.get(), 'detect'),
      tables: [poolerJobs],
      postgres: { pooler: 'transaction' },
    });
    await declared.close();
  });

  it('runs every transaction with the settings a direct connection has, and no session state', async () => {
    const server = await cluster.get();
    const seen: Record<string, unknown[]> = {};
    for (const [label, url, pooler] of [
      ['pooled', schemaUrl(await bouncer.get(), 'settings_pooled'), true],
      ['direct', `${server.url}?schema=settings_direct`, false],
    ] as const) {
      const db = await open({ url, tables: [probes], ...(pooler ? { postgres: { pooler: 'transaction' as const } } : {}) });
      try {
        await db.migrate();
        const schema = `settings_${label}`;
        await server.withClient((c) => c.query(PROBE_TRIGGER(schema)));
        const t = db.table(probes);
        // Singles and a multi-row batch; then the same statements again (a direct connection has prepared them by now).
        for (let round = 0; round < 3; round++) await Promise.all([1, 2, 3].map((i) => t.insert({ id: round * 10 + i })));
        expect(await t.count()).toBe(9);
        expect((await t.get(21))?.id).toBe(21);
        const rows = await server.withClient((c) => c.query(`select * from "${schema}".pooler_probes order by id`));
        seen[label] = rows.rows;
        const diagnosis = await db.diagnose();
        expect(diagnosis.schema).toBe(schema);
        expect(diagnosis.synchronousCommit).toBe('on');
        expect(diagnosis.schemaVersion).toBe(1);
      } finally {
        await db.close();
      }
    }
    const pooled = seen.pooled as { commits: string; path: string; idle: string; prepared: string; listens: string }[];
    expect(pooled).toHaveLength(9);
    for (const row of pooled) {
      expect(row).toMatchObject({ commits: 'on', path: 'settings_pooled', idle: '1min' });
      expect(Number(row.prepared)).toBe(0);
      expect(Number(row.listens)).toBe(0);
    }
    // The probe can tell: a direct connection prepares its statements by name.
    expect((seen.direct as { prepared: string }[]).some((row) => Number(row.prepared) > 0)).toBe(true);
    const inPublic = await server.withClient((c) => c.query("select count(*)::int as n from pg_tables where schemaname = 'public'"));
    expect(inPublic.rows[0].n).toBe(0);
    // No session advisory lock outlives a transaction (migrations take transaction-scoped ones).
    const locks = await server.withClient((c) => c.query("select count(*)::int as n from pg_locks where locktype = 'advisory'"));
    expect(locks.rows[0].n).toBe(0);
  });

  it(`settles ${JOBS} short-leased jobs from ${WORKERS} processes exactly once, the reaper running`, async () => {
    const server = await cluster.get();
    const url = schemaUrl(await bouncer.get(), 'claims');
    const dir = tempDir();
    const setup = await open({ url, tables: [poolerJobs], postgres: { pooler: 'transaction' } });
    try {
      await setup.migrate();
      const jobs = setup.table(poolerJobs);
      for (let start = 0; start < JOBS; start += 1000)
        await Promise.all(Array.from({ length: 1000 }, (_, i) => jobs.insert({ id: start + i })));
    } finally {
      await setup.close();
    }
    const go = join(dir, 'go');
    const configs: PoolerWorkerConfig[] = Array.from({ length: WORKERS }, (_, w) => ({
      url,
      pooler: true,
      owner: `w${w}`,
      log: join(dir, `w${w}.log`),
      go,
      leaseMs: 300,
      reapIntervalMs: 100,
      maxMs: 20_000,
    }));
    for (const config of configs) writeFileSync(config.log, '');
    const worker = join(import.meta.dirname, 'support', 'pooler-worker.ts');
    const workers = configs.map((config) => start(['--import', 'tsx', worker, JSON.stringify(config)]));
    try {
      while (!configs.every((c) => existsSync(`${c.log}.ready`))) {
        const early = workers.find((w) => w.child.exitCode !== null);
        if (early) throw new Error(`a worker exited (${early.child.exitCode}) before the start signal`);
        await new Promise((r) => setTimeout(r, 20));
      }
      writeFileSync(go, '');
      expect(await Promise.all(workers.map((w) => w.exit))).toEqual(configs.map(() => 0));
    } finally {
      // A failed run must not leave workers behind, hammering a pooler about to be stopped.
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    }

    const settledBy = new Map<number, string[]>();
    for (const config of configs) {
      for (const id of readFileSync(config.log, 'utf8').split('\n').filter(Boolean).map(Number)) {
        settledBy.set(id, [...(settledBy.get(id) ?? []), config.owner]);
      }
    }
    const errors = configs.map((c) => JSON.parse(readFileSync(`${c.log}.errors`, 'utf8')) as Record<string, number>);
    const { rows } = await server.withClient((c) =>
      c.query('select id, status, done_by, attempt, last_error from claims.pooler_jobs order by id'),
    );
    const settledTwice = [...settledBy.values()].filter((owners) => owners.length > 1).length;
    const lost = rows.filter((r) => r.status === 'pending' || r.status === 'running').length;
    const unasked = rows.filter((r) => r.status !== 'done' && r.status !== 'pending' && r.status !== 'running').length;
    const wrongSettler = rows.filter((r) => r.status === 'done' && settledBy.get(Number(r.id))?.[0] !== r.done_by).length;
    const reaped = rows.filter((r) => Number(r.attempt) > 1).length;
    console.info(
      `pooler claims: ${rows.length} jobs, settled twice ${settledTwice}, lost ${lost}, in a state nobody asked for ${unasked}, settled by another than the acknowledged ${wrongSettler}, reaped and claimed again ${reaped}, errors ${JSON.stringify(errors)}`,
    );
    expect(rows).toHaveLength(JOBS);
    expect(settledTwice).toBe(0);
    expect(lost).toBe(0);
    expect(unasked).toBe(0);
    expect(wrongSettler).toBe(0);
    expect(settledBy.size).toBe(JOBS);
    expect(errors).toEqual(configs.map(() => ({})));
    // Every 25th job was left unsettled on its first claim: the reaper handed each back.
    expect(reaped).toBeGreaterThanOrEqual(JOBS / 25);
  }, 60_000);
});
