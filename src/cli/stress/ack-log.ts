import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * One line per acknowledged write, in a format the Python writer shares:
 *   I <path> <downloadStatus> <transferStatus>   insert committed
 *   D <path> <downloadStatus>                    download status set by compare-and-set
 *   C <path> <owner> <token>                     transfer claimed (pending → downloading) under a lease
 *   S <path> <transferStatus> <token>            claimed transfer settled (completed | failed) with its token
 *   T <path> <transferStatus>                    transfer moved without a claim (the smoke checker)
 *   X <path>                                     row deleted
 */
export type AckEntry =
  | { op: 'I'; path: string; download: string; transfer: string }
  | { op: 'D'; path: string; download: string }
  | { op: 'C'; path: string; owner: string; token: number }
  | { op: 'S'; path: string; transfer: string; token: number }
  | { op: 'T'; path: string; transfer: string }
  | { op: 'X'; path: string };

/**
 * Appends acknowledgements with a write(2) per line, before the caller counts the write as done:
 * once the call returns the line is in the kernel, so it survives a kill -9 of this process.
 */
export class AckLog {
  readonly #fd: number;
  #closed = false;

  constructor(file: string) {
    this.#fd = openSync(file, 'a');
  }

  inserted(path: string, download: string, transfer: string): void {
    this.#write(`I ${path} ${download} ${transfer}\n`);
  }

  download(path: string, status: string): void {
    this.#write(`D ${path} ${status}\n`);
  }

  /** Several claims of one batch in one write. */
  claimed(claims: readonly { path: string; token: number }[], owner: string): void {
    if (claims.length > 0) this.#write(claims.map((c) => `C ${c.path} ${owner} ${c.token}\n`).join(''));
  }

  settled(path: string, status: string, token: number): void {
    this.#write(`S ${path} ${status} ${token}\n`);
  }

  transfer(path: string, status: string): void {
    this.#write(`T ${path} ${status}\n`);
  }

  deleted(path: string): void {
    this.#write(`X ${path}\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }

  #write(line: string): void {
    writeSync(this.#fd, line);
  }
}

/** Reads a log back; a torn last line (the writer was killed mid-write) is ignored. */
export function readAckLog(file: string): AckEntry[] {
  if (!existsSync(file)) return [];
  const entries: AckEntry[] = [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  for (const line of lines) {
    const [op, path, a, b] = line.split(' ');
    if (path === undefined) continue;
    const token = Number(b);
    if (op === 'I' && a !== undefined && b !== undefined) entries.push({ op, path, download: a, transfer: b });
    else if (op === 'D' && a !== undefined) entries.push({ op, path, download: a });
    else if (op === 'C' && a !== undefined && Number.isSafeInteger(token)) entries.push({ op, path, owner: a, token });
    else if (op === 'S' && a !== undefined && Number.isSafeInteger(token)) entries.push({ op, path, transfer: a, token });
    else if (op === 'T' && a !== undefined) entries.push({ op, path, transfer: a });
    else if (op === 'X') entries.push({ op, path });
  }
  return entries;
}
