#!/usr/bin/env python3
"""Holds the write lock of a SQLite file for a while, as a slow foreign writer would.

Takes the lock with BEGIN IMMEDIATE, writes one media_files row, prints "locked", sleeps for
--seconds, commits, prints "released". Sluice's tests use it to show that a lock held elsewhere
never freezes the Node event loop and that the writes queued meanwhile all commit afterwards.
"""
import argparse
import sqlite3
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--db', required=True)
    parser.add_argument('--seconds', type=float, default=2.0)
    parser.add_argument('--path', default='lock-holder/1')
    args = parser.parse_args()
    conn = sqlite3.connect(args.db, timeout=30.0, isolation_level=None)
    conn.execute('BEGIN IMMEDIATE')
    conn.execute(
        'INSERT INTO media_files (path, size, download_status, transfer_status, updated_at)'
        " VALUES (?, 0, 'DOWNLOADING', 'pending', ?)",
        (args.path, int(time.time() * 1000)),
    )
    print('locked %s' % sqlite3.sqlite_version, flush=True)
    time.sleep(args.seconds)
    conn.execute('COMMIT')
    conn.close()
    print('released', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
