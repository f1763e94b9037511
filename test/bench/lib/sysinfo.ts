// The machine and runtime a run happened on, for summary.json and the report.

import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { aeadBackends, kemBackends } from '@volly/shared';

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? process.platform;
  } catch {
    return process.platform;
  }
}

export function machineInfo() {
  const c = cpus();
  return {
    machine: {
      cpuModel: c[0]?.model.trim() ?? 'unknown',
      cores: c.length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      os: osName(),
      kernel: release(),
      arch: process.arch,
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    runtime: {
      kemBackends: kemBackends() as string[],
      aeadBackends: aeadBackends() as string[],
    },
  };
}
