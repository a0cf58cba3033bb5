import { type Database, SluiceError, type Table } from '../index.js';
import { type MediaFilesTable, mediaFiles } from './media-files-table.js';

const OWNER = 'demo-scheduler';

/**
 * The seed-000 scenario in the background of `sluice serve --demo`, so the dashboard moves at
 * once: an ingester adds media files and finishes their downloads, a scheduler claims finished
 * downloads under leases and settles them with the fencing token (a few fail and are retried),
 * a smoke checker runs the diagnostic round trip at low priority, and old transfers are trimmed.
 */
export class DemoScenario {
  readonly #files: Table<MediaFilesTable>;
  readonly #report: (error: unknown) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #stopped = false;
  #sequence = 0;

  constructor(db: Database, report: (error: unknown) => void) {
    this.#files = db.table(mediaFiles);
    this.#report = report;
  }

  start(): void {
    this.#every(50, () => this.#ingest(10));
    this.#every(250, () => this.#finishDownloads());
    this.#every(200, () => this.#schedule());
    this.#every(5_000, () => this.#retryFailed());
    this.#every(5_000, () => this.#smoke());
    this.#every(30_000, () => this.#trim());
  }

  /** Stops the loops and waits for the writes they started. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  #every(ms: number, step: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.#stopped) return;
      busy = true;
      const run = step()
        .catch((error) => {
          if (!this.#stopped || !SluiceError.is(error, 'CLOSED')) this.#report(error);
        })
        .finally(() => {
          busy = false;
          this.#inFlight.delete(run);
        });
      this.#inFlight.add(run);
    }, ms);
    this.#timers.push(timer);
  }

  async #ingest(count: number): Promise<void> {
    const rows = Array.from({ length: count }, () => ({
      path: `/demo/${Date.now().toString(36)}-${(this.#sequence++).toString(36)}.mp4`,
      size: Math.floor(Math.random() * 500_000_000),
      downloadStatus: 'DOWNLOADING',
    }));
    await Promise.all(rows.map((row) => this.#files.insert(row)));
  }

  async #finishDownloads(): Promise<void> {
    const rows = await this.#files.find({ where: { downloadStatus: 'DOWNLOADING', path: { $like: '/demo/%' } }, limit: 50, cache: false });
    await Promise.all(
      rows.map((row) =>
        this.#files
          .update(
            row.path,
            { downloadStatus: Math.random() < 0.03 ? 'FAILED' : 'COMPLETED', updatedAt: new Date() },
            { where: { downloadStatus: 'DOWNLOADING' } },
          )
          .catch((error) => {
            if (!SluiceError.is(error, 'CONFLICT') && !SluiceError.is(error, 'NOT_FOUND')) throw error;
          }),
      ),
    );
  }

  async #schedule(): Promise<void> {
    const claimed = await this.#files.claim({
      from: 'pending',
      to: 'downloading',
      limit: 20,
      leaseMs: 30_000,
      owner: OWNER,
      where: { downloadStatus: 'COMPLETED' },
      orderBy: 'updatedAt',
    });
    await Promise.all(
      claimed.map(async (row) => {
        await delay(Math.random() * 400);
        const to = Math.random() < 0.1 ? 'failed' : 'completed';
        await this.#files.transition(row.path, to, { from: 'downloading', token: row.attempt, set: { updatedAt: new Date() } });
      }),
    );
  }

  async #retryFailed(): Promise<void> {
    const failed = await this.#files.find({ where: { transferStatus: 'failed' }, limit: 5, cache: false });
    await Promise.all(failed.map((row) => this.#files.transition(row.path, 'pending', { from: 'failed', set: { updatedAt: new Date() } })));
  }

  async #smoke(): Promise<void> {
    const path = `/smoke/${process.pid}-${Date.now()}`;
    const low = { priority: 'low' } as const;
    await this.#files.insert({ path, size: 1, downloadStatus: 'DOWNLOADING' }, low);
    if (!(await this.#files.get(path))) throw new SluiceError('NOT_FOUND', `smoke: ${path} was acknowledged but cannot be read back.`);
    await this.#files.transition(path, 'downloading', { from: 'pending', ...low });
    await this.#files.delete(path, low);
  }

  async #trim(): Promise<void> {
    await this.#files.deleteWhere(
      { transferStatus: 'completed', updatedAt: { $lt: new Date(Date.now() - 10 * 60_000) } },
      { priority: 'low' },
    );
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
