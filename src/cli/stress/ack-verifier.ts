import type { HistoryEntry, RowType, Table } from '../../index.js';
import type { Lifecycle } from '../../internal.js';
import { DOWNLOAD_RANK, DOWNLOAD_STATUSES, type MediaFilesTable } from '../media-files-table.js';
import type { AckEntry } from './ack-log.js';

/** Everything any process was acknowledged for one path. */
interface Acked {
  download: Set<string>;
  claims: { owner: string; token: number }[];
  settles: { status: string; token: number }[];
  /** Transfer states reached by a plain transition (no claim). */
  moves: Set<string>;
  deleted: boolean;
}

export interface AckVerification {
  /** Paths anyone was acknowledged for. */
  readonly pathsChecked: number;
  /** Rows under the prefix that the database holds. */
  readonly rowsFound: number;
  /** Acknowledged writes whose row is gone (and was not deleted by an acknowledged delete). */
  readonly lostWrites: number;
  /**
   * Rows behind what was acknowledged for them: a download status behind the highest acknowledged
   * one, an attempt below an acknowledged claim's token, a settled transfer in another state, or
   * an acknowledged move missing from the history.
   */
  readonly lostUpdates: number;
  /** Items with two acknowledged settles. */
  readonly processedTwice: number;
  /** One fencing token acknowledged to two claims. */
  readonly claimedTwice: number;
  /** Acknowledged settles whose token is not the item's final attempt: a lapsed lease settled a newer attempt. */
  readonly staleSettlesApplied: number;
  /** Rows in a state outside their lifecycle (or the download statuses), or whose history shows a move the lifecycle lacks. */
  readonly illegalStates: number;
  /** Two different final download values acknowledged (a compare-and-set let both through). */
  readonly conflictingAcks: number;
  /**
   * Rows ahead of every acknowledgement: committed, but the writer never heard. Expected only
   * when a writer was killed between COMMIT and its log line.
   */
  readonly unacknowledgedChanges: number;
  /** History entries read to check the moves. */
  readonly historyEntries: number;
  /** Up to 20 problem descriptions, for the report. */
  readonly examples: readonly string[];
}

type MediaRow = RowType<MediaFilesTable>;
type Counter = Exclude<keyof AckVerification, 'examples'>;

/** Histories read at once while checking. */
const HISTORY_CONCURRENCY = 64;

/**
 * Checks the acknowledgement logs of every process against the rows in the database and their
 * lifecycle history. The download status only moves up in rank, so the state a row must hold is
 * the highest-ranked one anybody was acknowledged for. The transfer status is checked against
 * the claims and settles acknowledged with their fencing tokens, and its history (written by a
 * trigger, so foreign writers' moves are in it too) must be a walk the lifecycle allows.
 */
export async function verifyAcks(
  files: Table<MediaFilesTable>,
  prefix: string,
  logs: readonly (readonly AckEntry[])[],
): Promise<AckVerification> {
  const lifecycle = files.table.lifecycle as Lifecycle;
  const acked = collect(logs);
  const examples: string[] = [];
  const counts: Record<Counter, number> = {
    pathsChecked: acked.size,
    rowsFound: 0,
    lostWrites: 0,
    lostUpdates: 0,
    processedTwice: 0,
    claimedTwice: 0,
    staleSettlesApplied: 0,
    illegalStates: 0,
    conflictingAcks: 0,
    unacknowledgedChanges: 0,
    historyEntries: 0,
  };
  const flag = (counter: Counter, text?: string) => {
    counts[counter]++;
    if (text !== undefined && examples.length < 20) examples.push(text);
  };
  const seen = new Set<string>();

  const checkRow = async (row: MediaRow) => {
    const history = await files.history(row.path);
    counts.historyEntries += history.length;
    checkStates(row, history, lifecycle, flag);
    const a = acked.get(row.path);
    if (!a) return flag('unacknowledgedChanges');
    if (a.deleted) return flag('lostUpdates', `${row.path}: deleted (acknowledged) but still present`);
    const download = compare(a.download, row.downloadStatus);
    if (download === 'behind') {
      flag('lostUpdates', `${row.path}: download_status is ${row.downloadStatus}, behind the acknowledged ${[...a.download].join(' → ')}`);
    } else if (download === 'ahead') {
      flag('unacknowledgedChanges');
    }
    checkTransfer(row, history, a, flag);
  };

  let batch: Promise<void>[] = [];
  for await (const row of rowsUnder(files, prefix)) {
    counts.rowsFound++;
    seen.add(row.path);
    batch.push(checkRow(row));
    if (batch.length >= HISTORY_CONCURRENCY) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);

  for (const [path, a] of acked) {
    if (a.settles.length > 1) flag('processedTwice', `${path}: settled ${a.settles.length} times: ${describeSettles(a)}`);
    const tokens = a.claims.map((c) => c.token);
    if (new Set(tokens).size < tokens.length) {
      flag('claimedTwice', `${path}: one token claimed twice: ${a.claims.map((c) => `${c.owner}#${c.token}`).join(', ')}`);
    }
    if (finals(a.download) > 1) flag('conflictingAcks', `${path}: conflicting download states acknowledged: ${[...a.download].join(', ')}`);
    if (!seen.has(path) && !a.deleted) flag('lostWrites', `${path}: acknowledged but missing from the database`);
  }
  return { ...counts, examples };
}

/** The row's states are lifecycle (and download) states, and its history is a walk the lifecycle allows, ending where the row is. */
function checkStates(
  row: MediaRow,
  history: readonly HistoryEntry[],
  lifecycle: Lifecycle,
  flag: (c: Counter, text?: string) => void,
): void {
  if (!lifecycle.states.includes(row.transferStatus)) {
    flag('illegalStates', `${row.path}: transfer_status ${row.transferStatus} is not a lifecycle state`);
    return;
  }
  if (!(DOWNLOAD_STATUSES as readonly string[]).includes(row.downloadStatus)) {
    flag('illegalStates', `${row.path}: download_status ${row.downloadStatus} is not a download status`);
    return;
  }
  let at: string | null = null;
  for (const entry of history) {
    const legal = entry.from === at && (at === null ? lifecycle.states.includes(entry.to) : lifecycle.next.get(at)?.has(entry.to) === true);
    if (!legal) {
      flag('illegalStates', `${row.path}: history moves ${entry.from ?? '(insert)'} -> ${entry.to} after ${at ?? 'nothing'}`);
      return;
    }
    at = entry.to;
  }
  if (at !== row.transferStatus)
    flag('illegalStates', `${row.path}: history ends at ${at ?? 'nothing'} but the row is ${row.transferStatus}`);
}

/** The transfer against its acknowledged claims and settles. */
function checkTransfer(row: MediaRow, history: readonly HistoryEntry[], a: Acked, flag: (c: Counter, text?: string) => void): void {
  const topToken = Math.max(0, ...a.claims.map((c) => c.token));
  if (row.attempt < topToken) flag('lostUpdates', `${row.path}: attempt is ${row.attempt}, below the acknowledged claim #${topToken}`);
  else if (row.attempt > topToken) flag('unacknowledgedChanges');
  const claimsInHistory = history.filter((e) => e.to === 'downloading').length;
  if (claimsInHistory < a.claims.length + (a.moves.has('downloading') ? 1 : 0)) {
    flag('lostUpdates', `${row.path}: ${a.claims.length} claims acknowledged, ${claimsInHistory} moves to downloading in the history`);
  }
  for (const settle of a.settles) {
    if (settle.token !== row.attempt) {
      flag(
        'staleSettlesApplied',
        `${row.path}: settle ${settle.status} with token ${settle.token} applied, but the final attempt is ${row.attempt}`,
      );
    }
    if (row.transferStatus !== settle.status) {
      flag('lostUpdates', `${row.path}: transfer_status is ${row.transferStatus}, but a settle to ${settle.status} was acknowledged`);
    }
    if (!history.some((e) => e.from === 'downloading' && e.to === settle.status)) {
      flag('lostUpdates', `${row.path}: the acknowledged settle to ${settle.status} is not in the history`);
    }
  }
  for (const state of a.moves) {
    if (!history.some((e) => e.to === state)) flag('lostUpdates', `${row.path}: the acknowledged move to ${state} is not in the history`);
  }
  if (a.settles.length > 0) return;
  // No settle acknowledged: a terminal state must come from the reaper, a claim must be acknowledged.
  const reaped = row.transferStatus === 'failed' && row.lastError !== null;
  const claimed = row.transferStatus === 'downloading' && (a.claims.some((c) => c.token === row.attempt) || a.moves.has('downloading'));
  if (
    row.transferStatus === 'completed' ||
    (row.transferStatus === 'failed' && !reaped) ||
    (row.transferStatus === 'downloading' && !claimed)
  ) {
    flag('unacknowledgedChanges');
  }
}

function describeSettles(a: Acked): string {
  return a.settles.map((s) => `${s.status}#${s.token}`).join(', ');
}

function collect(logs: readonly (readonly AckEntry[])[]): Map<string, Acked> {
  const acked = new Map<string, Acked>();
  for (const log of logs) {
    for (const entry of log) {
      let a = acked.get(entry.path);
      if (!a) {
        a = { download: new Set(), claims: [], settles: [], moves: new Set(), deleted: false };
        acked.set(entry.path, a);
      }
      switch (entry.op) {
        case 'I':
          a.download.add(entry.download);
          break;
        case 'D':
          a.download.add(entry.download);
          break;
        case 'C':
          a.claims.push({ owner: entry.owner, token: entry.token });
          break;
        case 'S':
          a.settles.push({ status: entry.transfer, token: entry.token });
          break;
        case 'T':
          a.moves.add(entry.transfer);
          break;
        case 'X':
          a.deleted = true;
          break;
      }
    }
  }
  return acked;
}

/** Where the stored download status stands against the acknowledged ones: the same rank and value, behind, or ahead. */
function compare(acked: ReadonlySet<string>, stored: string): 'ok' | 'behind' | 'ahead' {
  const storedRank = rankOf(stored);
  let top = -1;
  for (const value of acked) top = Math.max(top, rankOf(value));
  if (top < 0) return 'ok';
  if (storedRank > top) return 'ahead';
  if (storedRank < top) return 'behind';
  return acked.has(stored) ? 'ok' : 'behind';
}

/** How many different values of the top rank were acknowledged: more than one means a CAS let two through. */
function finals(acked: ReadonlySet<string>): number {
  let top = -1;
  for (const value of acked) top = Math.max(top, rankOf(value));
  let n = 0;
  for (const value of acked) if (rankOf(value) === top) n++;
  return n;
}

function rankOf(value: string): number {
  return (DOWNLOAD_RANK as Record<string, number>)[value] ?? -1;
}

/** Pages through every row whose path starts with the prefix, in path order. */
export async function* rowsUnder(files: Table<MediaFilesTable>, prefix: string): AsyncGenerator<MediaRow> {
  let after: string | null = null;
  do {
    const page: { rows: MediaRow[]; next: string | null } = await files.page({
      where: { path: { $like: `${prefix}%` } },
      orderBy: 'path',
      limit: 5000,
      after,
    });
    yield* page.rows;
    after = page.next;
  } while (after !== null);
}
