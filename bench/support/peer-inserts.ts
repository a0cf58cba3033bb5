import { mediaRow, sequentialPath } from './media-table.js';
import { type Contender, openWriter } from './peer-writers.js';
import { openRaw } from './sqlite-files.js';

/** Scenario A's fixed load: what an ingester receiving 1,000 uploads at once would write. */
export const INSERT_ROWS = 50_000;
export const INSERT_CALLERS = 1000;

/**
 * INSERT_ROWS rows from INSERT_CALLERS callers, each awaiting its own insert before the next; rows/s
 * from the first call to the last acknowledgement (opening the file is not timed).
 */
export async function peerInserts(contender: Contender, file: string): Promise<number> {
  const writer = await openWriter(contender, file, false);
  let next = 0;
  const caller = async () => {
    while (next < INSERT_ROWS) {
      const n = next++;
      await writer.insert(mediaRow(sequentialPath(n), n));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: INSERT_CALLERS }, caller));
  const seconds = (performance.now() - t0) / 1000;
  await writer.close();
  const stored = countRows(file);
  if (stored !== INSERT_ROWS) throw new Error(`${contender} acknowledged ${INSERT_ROWS} inserts but the file holds ${stored}`);
  return INSERT_ROWS / seconds;
}

export function countRows(file: string, where = ''): number {
  const db = openRaw(file);
  try {
    return (db.prepare(`select count(*) as n from media_files ${where}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}
