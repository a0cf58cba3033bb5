import type { TargetMark } from '../dialect/postgres/postgres-sync-types.js';

/** The file's own record of its node (the `_sluice_sync_node` row). */
export interface NodeRecord {
  readonly nodeId: string;
  readonly ackedSeq: number;
  readonly lineage: string | null;
  readonly intent: string | null;
  readonly intentSeq: number | null;
  readonly forkedFrom: string | null;
  readonly resync: string | null;
}

export type Verdict =
  /** The target follows this file: ship on from `mark`, expecting `lineage` there. */
  | { readonly kind: 'same'; readonly mark: number; readonly lineage: string | null }
  /** The target's record of this node was written by another copy of the file (or lost): fork. */
  | { readonly kind: 'fork'; readonly reason: string };

/**
 * Does the target's record of this node come from this file? Every token a shipper leaves on the
 * target is written into the file first (as `intent`, with the mark it sets), so the target holds
 * either the file's `lineage` (nothing shipped since the file last recorded) or its `intent` (a
 * batch whose COMMIT the file never heard back about). Anything else was written by another copy.
 *
 * `numbered` is the largest seq this file ever gave a change. Before the first ship of this
 * version neither side has a token (an older version's offsets): there the mark alone decides, and
 * a mark above anything the file numbered, or behind the file's own, cannot be this file's.
 */
export function judge(file: NodeRecord, target: TargetMark, numbered: number): Verdict {
  const node = file.nodeId;
  if (target.lineage !== null && target.lineage === file.intent && target.seq === file.intentSeq) {
    return { kind: 'same', mark: target.seq, lineage: target.lineage };
  }
  if (target.lineage !== file.lineage) {
    return {
      kind: 'fork',
      reason: `the target's record of node ${node} (mark ${target.seq}) was left by another copy of this file: its lineage token is not one this file wrote`,
    };
  }
  if (target.seq === file.ackedSeq) return { kind: 'same', mark: target.seq, lineage: target.lineage };
  if (target.seq > numbered) {
    return {
      kind: 'fork',
      reason: `the target's mark for node ${node} (${target.seq}) is above anything this file numbered (${numbered}): another copy of this file shipped under the same id`,
    };
  }
  if (target.seq < file.ackedSeq) {
    return {
      kind: 'fork',
      reason: `the target's mark for node ${node} (${target.seq}) is behind this file's (${file.ackedSeq}): the target lost changes it had acknowledged (restored from a backup?)`,
    };
  }
  // Tokens agree and the mark lies within what the file numbered: the file's record of an
  // earlier COMMIT was lost (only possible without tokens, as older versions shipped).
  return target.lineage === null
    ? { kind: 'same', mark: target.seq, lineage: null }
    : {
        kind: 'fork',
        reason: `the target's mark for node ${node} (${target.seq}) does not match this file's record (${file.ackedSeq}) for the same lineage`,
      };
}

/** The fields a shipper compares to tell whether the record moved between two reads. */
export function sameRecord(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.nodeId === b.nodeId &&
    a.ackedSeq === b.ackedSeq &&
    a.lineage === b.lineage &&
    a.intent === b.intent &&
    a.intentSeq === b.intentSeq &&
    a.resync === b.resync
  );
}

/** A fresh, unguessable lineage token. */
export function newToken(): string {
  return crypto.randomUUID();
}
