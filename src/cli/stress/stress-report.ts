import type { StressReport } from './stress-runner.js';

/** The stress report as a person reads it. */
export function formatStressReport(r: StressReport): string {
  const lines: string[] = [];
  const ms = (f: { p50: number; p95: number; p99: number; max: number }) => `p50 ${f.p50}  p95 ${f.p95}  p99 ${f.p99}  max ${f.max} ms`;
  lines.push(`Stress on ${r.db}: ${r.processes.length} writers for ${r.seconds} s (run ${r.runId})`);
  if (r.foreign) {
    lines.push(
      `foreign writer: Python sqlite3 on SQLite ${r.foreign.sqliteVersion} (${r.foreign.library === 'system' ? 'system library' : `built from better-sqlite3's ${r.foreign.bundledVersion}`})`,
    );
    if (r.foreign.warning) lines.push('', `*** WARNING: ${r.foreign.warning} ***`, '');
  }
  lines.push('', 'process          role        acked    ops/s   busy retries  BUSY  claims  errors  latency');
  for (const p of r.processes) {
    const errors = Object.values(p.errors).reduce((a, b) => a + b, 0);
    lines.push(
      `${p.name.padEnd(16)} ${p.role.padEnd(10)} ${String(p.acked).padStart(6)} ${String(p.opsPerSecond).padStart(8)} ${String(p.busyRetries).padStart(14)} ${String(p.busySurfaced).padStart(5)} ${String(p.claims).padStart(7)} ${String(errors).padStart(7)}  ${ms(p.latencyMs)}`,
    );
  }
  for (const name of r.missingSummaries) lines.push(`${name.padEnd(16)} ENDED WITHOUT A SUMMARY (crashed or killed)`);
  const t = r.totals;
  lines.push(
    '',
    `total: ${t.acked} acknowledged writes, ${t.opsPerSecond} ops/s; busy retries ${t.busyRetries}; ${t.claims} items claimed`,
    `lapsed leases settled late on purpose: ${t.lapsedSettlesTried}, refused by the fencing token ${t.lapsedSettlesRefused}`,
    ...(r.foreign
      ? [`illegal transitions tried by the foreign writer: ${t.illegalTried}, refused by the database ${t.illegalRefused}`]
      : []),
    `latency (all acknowledged writes): ${ms(r.latencyMs)}`,
    `slowest/fastest writer: ${r.fairness.overall}${Object.entries(r.fairness.byRole)
      .map(([role, v]) => `; among ${role}s ${v}`)
      .join('')}`,
    '',
    'checks against the acknowledgement logs:',
    check('lost writes (acknowledged, missing)', r.checks.lostWrites),
    check('lost updates (row behind its acknowledged state)', r.checks.lostUpdates),
    check('items processed twice (two acknowledged settles)', r.checks.processedTwice),
    check('tokens claimed twice', r.checks.claimedTwice),
    check('stale settles applied (token not the last attempt)', r.checks.staleSettlesApplied),
    check('illegal states (row or history off the lifecycle)', r.checks.illegalStates),
    check('illegal moves the database accepted', t.illegalAccepted),
    check('conflicting acknowledgements', r.checks.conflictingAcks),
    check('unacknowledged changes (row ahead of every ack)', r.checks.unacknowledgedChanges),
    check('BUSY errors surfaced', t.busySurfaced),
    check('other write errors', t.errors),
    check('own writes not read back', t.readOwnWriteMisses),
    `  ${'integrity_check'.padEnd(52)} ${r.checks.integrity.join('; ')}`,
    `  (${r.checks.pathsChecked} paths acknowledged, ${r.checks.rowsFound} rows found, ${r.checks.historyEntries} history entries)`,
  );
  for (const example of r.checks.examples) lines.push(`  - ${example}`);
  for (const p of r.processes) for (const sample of p.errorSamples) lines.push(`  ${p.name}: ${sample}`);
  if (r.logDir) lines.push(`acknowledgement logs kept in ${r.logDir}`);
  lines.push('', r.ok ? 'PASS' : 'FAIL');
  return lines.join('\n');
}

function check(label: string, n: number): string {
  return `  ${label.padEnd(52)} ${n}${n === 0 ? '' : '  <-- FAIL'}`;
}
