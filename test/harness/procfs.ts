// What the kernel says about a process: CPU time (utime+stime from
// /proc/<pid>/stat, all threads, in clock ticks), resident memory, children.
// Linux only, like the machines this runs on.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let tck: number | undefined;
/** Clock ticks per second (USER_HZ), from `getconf CLK_TCK`; 100 when unknown. */
export function clockTicks(): number {
  if (tck === undefined) {
    try {
      tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      tck = 100;
    }
  }
  return tck;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards). */
function statFields(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a process (every thread, live or exited) in microseconds. */
export function cpuMicros(pid: number): number {
  const f = statFields(pid);
  // Fields 14 and 15 of proc(5) are utime and stime; f[0] is field 3.
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1e6) / clockTicks();
}

/**
 * CPU time of every live thread of a process from /proc/<pid>/task/<tid>/schedstat,
 * in microseconds at nanosecond resolution (a cross-check of the tick-resolution
 * utime+stime; threads that exited are not counted).
 */
export function schedCpuMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // exited
    }
  }
  return ns / 1000;
}

/** stime alone (CPU spent in the kernel on the process's behalf), in microseconds. */
export function kernelMicros(pid: number): number {
  return (Number(statFields(pid)[12]) * 1e6) / clockTicks();
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/** Direct children of `pid` (e.g. nginx's workers), found by scanning /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `measure` summed over a process and its direct children (nginx: master + workers). */
export function overTree(pid: number, measure: (pid: number) => number): number {
  let total = measure(pid);
  for (const c of childrenOf(pid)) {
    try {
      total += measure(c);
    } catch {
      // exited
    }
  }
  return total;
}

/** CPU time the whole machine spent busy (all cores, every process), in microseconds, from /proc/stat. */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1e6) / clockTicks();
}

/** Open-file limit of a process: { soft, hard } from /proc/<pid>/limits. */
export function fdLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const n = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * Raises this process's open-file limit (children inherit it: LiveKit, the
 * proxy, nginx). Root can raise the hard limit with prlimit(1); anyone can
 * raise the soft limit to the hard one. Returns the limit in force after.
 */
export function raiseFdLimit(want: number): { soft: number; hard: number; raised: boolean } {
  const before = fdLimit();
  if (before.soft >= want) return { ...before, raised: false };
  for (const target of [want, before.hard]) {
    if (!Number.isFinite(target) || target <= before.soft) continue;
    try {
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${Math.max(target, before.hard)}`], { stdio: 'ignore' });
      break;
    } catch {
      // not permitted: try the next, smaller target
    }
  }
  const after = fdLimit();
  return { ...after, raised: after.soft > before.soft };
}
