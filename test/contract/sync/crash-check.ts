import { readFileSync } from 'node:fs';

export interface CrashCounts {
  /** Keys whose state the target lacks: present in the file (or acknowledged) but absent there. */
  missing: number;
  /** Target rows older than the file's row or than the last acknowledged version. */
  older: number;
  /** Target rows whose version no writer ever submitted. */
  neverSubmitted: number;
  /** Keys where the file itself lost an acknowledged write. */
  localLost: number;
  acknowledged: number;
}

type Op = { version: number; deleted: boolean };

/** Reads `S`/`A` log lines: every submitted (key, version) and each key's last acknowledged op. */
export function readLog(text: string): { submitted: Map<number, Op[]>; acked: Map<number, Op> } {
  const submitted = new Map<number, Op[]>();
  const acked = new Map<number, Op>();
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 3) continue;
    const key = Number(parts[1]);
    const deleted = parts[2] === 'D';
    const version = Number(deleted ? parts[3] : parts[2]);
    if (!Number.isFinite(version)) continue;
    const op = { version, deleted };
    if (parts[0] === 'S') {
      let list = submitted.get(key);
      if (!list) {
        list = [];
        submitted.set(key, list);
      }
      list.push(op);
    } else if (parts[0] === 'A') {
      const prev = acked.get(key);
      if (!prev || prev.version < version) acked.set(key, op);
    }
  }
  return { submitted, acked };
}

export function readLogFile(file: string) {
  return readLog(readFileSync(file, 'utf8'));
}

/** Compares the target with the file and with what writers were told. */
export function crashCounts(
  log: { submitted: Map<number, Op[]>; acked: Map<number, Op> },
  local: Map<number, number>,
  target: Map<number, number>,
): CrashCounts {
  let missing = 0;
  let older = 0;
  let neverSubmitted = 0;
  let localLost = 0;
  for (const [key, version] of local) {
    const there = target.get(key);
    if (there === undefined) missing++;
    else if (there < version) older++;
  }
  for (const [key, op] of log.acked) {
    const here = local.get(key);
    const laterDelete = (log.submitted.get(key) ?? []).some((s) => s.deleted && s.version > op.version);
    const laterPut = here !== undefined && here > op.version;
    if (!op.deleted && here === undefined && !laterDelete) localLost++;
    if (!op.deleted && here !== undefined && here < op.version) localLost++;
    if (op.deleted && here !== undefined && !laterPut) localLost++;
    const there = target.get(key);
    if (!op.deleted && there === undefined && !laterDelete) missing++;
    if (!op.deleted && there !== undefined && there < op.version) older++;
  }
  for (const [key, version] of target) {
    if (!(log.submitted.get(key) ?? []).some((s) => !s.deleted && s.version === version)) neverSubmitted++;
    if (!local.has(key)) missing++;
  }
  return { missing, older, neverSubmitted, localLost, acknowledged: log.acked.size };
}

/** The figures a crash run must end with: nothing missing, rewound, invented or left pending. */
export function lossFigures(counts: CrashCounts, status: { pending: number }) {
  return {
    missing: counts.missing,
    older: counts.older,
    neverSubmitted: counts.neverSubmitted,
    localLost: counts.localLost,
    pending: status.pending,
  };
}

export const NOTHING_LOST = { missing: 0, older: 0, neverSubmitted: 0, localLost: 0, pending: 0 } as const;
