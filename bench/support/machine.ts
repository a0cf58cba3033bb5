import { cpus, loadavg, totalmem } from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  sqlite: string;
  postgres: string;
  /** 1-minute load average when the run started: a busy machine makes every figure lower. */
  loadAtStart: number;
}

export function describeMachine(sqlite: string, postgres: string | undefined): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sqlite,
    postgres: postgres ?? 'not reachable',
    loadAtStart: loadavg()[0] ?? 0,
  };
}
