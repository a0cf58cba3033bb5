import { statSync } from 'node:fs';
import { SluiceError } from '../../core/sluice-error.js';

interface Identity {
  readonly dev: number;
  readonly ino: number;
}

function identityOf(path: string): Identity | undefined {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

const same = (a: Identity, b: Identity) => a.dev === b.dev && a.ino === b.ino;

/**
 * Notices when the database file or its WAL is deleted or replaced under an open connection.
 * SQLite keeps writing to the file it opened, so without this check writes are acknowledged into
 * an unlinked inode that no other process (and no restart) will ever read. Checked before every
 * COMMIT (two stat calls, a few microseconds against a batch's milliseconds), so the batch that
 * finds the problem rolls back instead of being acknowledged.
 */
export class FileIdentity {
  readonly #file: string;
  readonly #wal: string;
  readonly #fileId: Identity | undefined;
  #walId: Identity | undefined;
  #lost: SluiceError | undefined;

  constructor(file: string) {
    this.#file = file;
    this.#wal = `${file}-wal`;
    this.#fileId = identityOf(file);
    this.#walId = identityOf(this.#wal);
  }

  /** The reason writing must stop, or undefined while both files are the ones opened. */
  check(): SluiceError | undefined {
    if (this.#lost || this.#fileId === undefined) return this.#lost;
    const file = identityOf(this.#file);
    if (!file || !same(file, this.#fileId)) {
      return this.#fail(file ? 'was replaced by another file' : 'was deleted', `the database file ${this.#file}`);
    }
    const wal = identityOf(this.#wal);
    if (this.#walId === undefined) {
      // The WAL appears with the first write transaction; from then on it must stay the same file.
      this.#walId = wal;
      return undefined;
    }
    if (!wal || !same(wal, this.#walId)) {
      return this.#fail(wal ? 'was replaced by another file' : 'was deleted', `its write-ahead log ${this.#wal}`);
    }
    return undefined;
  }

  #fail(what: string, which: string): SluiceError {
    this.#lost = new SluiceError(
      'UNAVAILABLE',
      `Writing stopped: ${which} ${what} while this process had it open, so commits would land where no other process or restart can read them. This write and every later one are refused and nothing more is written; close the database, restore or remove the files deliberately, and open it again.`,
      { value: this.#file },
    );
    return this.#lost;
  }
}
