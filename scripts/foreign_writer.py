#!/usr/bin/env python3
"""A foreign writer for `sluice stress --foreign`: plain Python sqlite3, no Sluice.

It plays both Python parts of the shared-file scenario: it inserts its own media files and
settles their downloads (DOWNLOADING -> COMPLETED/FAILED), and it schedules transfers beside the
Node schedulers: it claims with one UPDATE ... RETURNING (pending -> downloading, attempt + 1,
under a lease) and settles each item with its attempt number as the fencing token. Once a second
it also tries an illegal transfer move, which the lifecycle triggers must refuse. Each
transaction is BEGIN IMMEDIATE and retried on "database is locked" with jittered 50/100/200 ms
waits (the seed's own fix).

Protocol: prints {"type": "ready", ...} on stdout, waits for a line "go <end epoch ms>" on stdin,
runs until then, prints {"type": "summary", ...} and exits. Every acknowledged write (COMMIT
returned) is appended to --log with one os.write before it is counted, in the format the Node
writers use (I/D/C/S lines).
"""
import argparse
import json
import os
import random
import sqlite3
import sys
import time

DEADLINE_S = 30.0
BATCH = 5
CLAIM_BATCH = 8
LEASE_MS = 30000
ILLEGAL_EVERY_S = 1.0
ILLEGAL_MARK = 'illegal lifecycle transition'

# Moves the media_files lifecycle does not allow: (state the row is in, state it is pushed to).
ILLEGAL_MOVES = [('pending', 'completed'), ('completed', 'pending'), ('completed', 'archived')]


class Writer:
    def __init__(self, db, log, name, prefix):
        self.conn = sqlite3.connect(db, timeout=1.0, isolation_level=None)
        self.conn.execute('PRAGMA synchronous = NORMAL')
        self.log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.name = name
        self.prefix = prefix
        self.next = 0
        self.ops = {}
        self.acked = 0
        self.retries = 0
        self.busy_surfaced = 0
        self.errors = {}
        self.error_samples = []
        self.latencies = []
        self.claims = 0
        self.illegal_tried = 0
        self.illegal_refused = 0
        self.illegal_accepted = 0
        self.next_illegal = 0.0

    def transaction(self, work):
        """Runs work(conn) in BEGIN IMMEDIATE ... COMMIT; returns (result, seconds) or None after the deadline."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                self.conn.execute('BEGIN IMMEDIATE')
                try:
                    result = work(self.conn)
                    self.conn.execute('COMMIT')
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute('ROLLBACK')
                    raise
                return result, time.monotonic() - started
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                self.retries += 1
                if time.monotonic() - started > DEADLINE_S:
                    self.busy_surfaced += 1
                    return None
                time.sleep(min(0.2, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.5))
                attempt += 1

    def ack(self, kind, lines, seconds):
        if not lines:
            return
        os.write(self.log_fd, ''.join(lines).encode())
        self.ops[kind] = self.ops.get(kind, 0) + len(lines)
        self.acked += len(lines)
        self.latencies.extend([seconds * 1000.0] * len(lines))

    def failed(self, kind, error):
        code = type(error).__name__
        self.errors[code] = self.errors.get(code, 0) + 1
        if len(self.error_samples) < 5:
            self.error_samples.append('%s: %s: %s' % (kind, code, error))

    def insert_batch(self):
        paths = ['%s%s/%d' % (self.prefix, self.name, self.next + i) for i in range(BATCH)]
        self.next += BATCH

        def work(conn):
            now = now_ms()
            for path in paths:
                conn.execute(
                    'INSERT INTO media_files (path, size, download_status, transfer_status, updated_at)'
                    " VALUES (?, ?, 'DOWNLOADING', 'pending', ?)",
                    (path, random.randint(1, 10 ** 9), now),
                )
            return paths

        done = self.transaction(work)
        if done is None:
            return []
        self.ack('insert', ['I %s DOWNLOADING pending\n' % p for p in done[0]], done[1])
        return done[0]

    def settle_downloads(self, paths):
        def work(conn):
            now = now_ms()
            settled = []
            for path in paths:
                status = 'COMPLETED' if random.random() < 0.9 else 'FAILED'
                cursor = conn.execute(
                    "UPDATE media_files SET download_status = ?, updated_at = ? WHERE path = ? AND download_status = 'DOWNLOADING'",
                    (status, now, path),
                )
                if cursor.rowcount == 1:
                    settled.append((path, status))
            return settled

        done = self.transaction(work)
        if done is not None:
            self.ack('download', ['D %s %s\n' % s for s in done[0]], done[1])

    def schedule(self):
        def claim(conn):
            now = now_ms()
            return conn.execute(
                "UPDATE media_files SET transfer_status = 'downloading', attempt = attempt + 1, lease_owner = ?,"
                ' lease_expires_at = ?, last_error = NULL'
                " WHERE transfer_status = 'pending' AND path IN (SELECT path FROM media_files"
                "   WHERE transfer_status = 'pending' AND download_status = 'COMPLETED' AND path LIKE ?"
                '   ORDER BY updated_at LIMIT ?)'
                ' RETURNING path, attempt',
                (self.name, now + LEASE_MS, self.prefix + '%', CLAIM_BATCH),
            ).fetchall()

        done = self.transaction(claim)
        if done is None or not done[0]:
            return
        claimed = done[0]
        self.claims += len(claimed)
        self.ack('claim', ['C %s %s %d\n' % (path, self.name, token) for path, token in claimed], done[1])

        def settle(conn):
            now = now_ms()
            settled = []
            for path, token in claimed:
                status = 'completed' if random.random() < 0.95 else 'failed'
                cursor = conn.execute(
                    'UPDATE media_files SET transfer_status = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?'
                    " WHERE path = ? AND attempt = ? AND transfer_status = 'downloading'",
                    (status, now, path, token),
                )
                if cursor.rowcount == 1:
                    settled.append((path, status, token))
                else:
                    self.failed('settle', RuntimeError('claimed %s (attempt %d) but the token was stale within its lease' % (path, token)))
            return settled

        done = self.transaction(settle)
        if done is not None:
            self.ack('settle', ['S %s %s %d\n' % s for s in done[0]], done[1])

    def try_illegal(self):
        """Pushes one row of this run along a move the lifecycle lacks; the trigger must refuse it."""
        if time.monotonic() < self.next_illegal:
            return
        self.next_illegal = time.monotonic() + ILLEGAL_EVERY_S
        source, target = ILLEGAL_MOVES[self.illegal_tried % len(ILLEGAL_MOVES)]
        rows = self.read(
            'SELECT path FROM media_files WHERE transfer_status = ? AND path LIKE ? LIMIT 1',
            (source, self.prefix + '%'),
        )
        if not rows:
            return

        def push(conn):
            # Compare-and-set on the state just read: without the trigger this would apply.
            return conn.execute(
                'UPDATE media_files SET transfer_status = ? WHERE path = ? AND transfer_status = ?',
                (target, rows[0][0], source),
            ).rowcount

        self.illegal_tried += 1
        try:
            done = self.transaction(push)
        except sqlite3.DatabaseError as error:
            if ILLEGAL_MARK in str(error):
                self.illegal_refused += 1
            else:
                self.failed('illegal', error)
            return
        if done is None:
            self.illegal_tried -= 1
        elif done[0] == 1:
            self.illegal_accepted += 1
            self.failed('illegal', RuntimeError('the database accepted %s -> %s on %s' % (source, target, rows[0][0])))
        else:
            # The row moved on between the read and the update: nothing was tested.
            self.illegal_tried -= 1

    def read(self, sql, params):
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:
                if not is_busy(error) or time.monotonic() - started > DEADLINE_S:
                    raise
                self.retries += 1
                time.sleep(min(0.2, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.5))
                attempt += 1

    def run(self, end_at_ms):
        started = time.monotonic()
        pending = []
        while now_ms() < end_at_ms:
            try:
                inserted = self.insert_batch()
                if pending:
                    self.settle_downloads(pending)
                pending = inserted
                self.schedule()
                self.try_illegal()
            except sqlite3.Error as error:
                self.failed('write', error)
                time.sleep(0.01)
        return (time.monotonic() - started) * 1000.0

    def summary(self, elapsed_ms):
        return {
            'type': 'summary',
            'summary': {
                'name': self.name,
                'role': 'foreign',
                'pid': os.getpid(),
                'elapsedMs': elapsed_ms,
                'acked': self.acked,
                'ops': self.ops,
                'busyRetries': self.retries,
                'busySurfaced': self.busy_surfaced,
                'errors': self.errors,
                'errorSamples': self.error_samples,
                'readOwnWriteMisses': 0,
                'claims': self.claims,
                'lapsedSettlesTried': 0,
                'lapsedSettlesRefused': 0,
                'illegalTried': self.illegal_tried,
                'illegalRefused': self.illegal_refused,
                'illegalAccepted': self.illegal_accepted,
                'latencies': self.latencies,
                'sqliteVersion': sqlite3.sqlite_version,
            },
        }


def is_busy(error):
    name = getattr(error, 'sqlite_errorname', '') or ''
    text = str(error)
    return name.startswith('SQLITE_BUSY') or name.startswith('SQLITE_LOCKED') or 'locked' in text or 'busy' in text


def now_ms():
    return int(time.time() * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--db', required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('--name', default='py-1')
    parser.add_argument('--prefix', required=True)
    args = parser.parse_args()
    writer = Writer(args.db, args.log, args.name, args.prefix)
    print(json.dumps({'type': 'ready', 'sqliteVersion': sqlite3.sqlite_version}), flush=True)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != 'go':
        return 2
    elapsed = writer.run(int(line[1]))
    writer.conn.close()
    os.close(writer.log_fd)
    print(json.dumps(writer.summary(elapsed)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
