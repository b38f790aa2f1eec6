// Small numeric helpers: percentiles and a process's peak resident set size.
import { readdirSync, readFileSync } from 'node:fs';

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** A field of /proc/<pid>/status in MB (kB / 1024), or NaN when it cannot be read (not Linux, process gone). */
function procStatusMb(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Peak RSS (VmHWM, the kernel's high-water mark over the process's life) in MB. */
export const peakRssMb = (pid: number | 'self' = 'self'): number => {
  const hwm = procStatusMb(pid, 'VmHWM');
  return Number.isNaN(hwm) && pid === 'self' ? process.memoryUsage().rss / 1024 / 1024 : hwm;
};

/**
 * CPU time (user + system, every thread) a process has used so far, in seconds, from /proc/<pid>/stat; NaN when it
 * cannot be read.
 */
export const cpuSeconds = (pid: number): number => statCpuSeconds(`/proc/${pid}/stat`);

/**
 * User + system CPU time in a /proc stat file (a process's, or one thread's: /proc/<pid>/task/<tid>/stat), in seconds;
 * NaN when it cannot be read. The kernel counts it in clock ticks of 1/100 s (USER_HZ, 100 on Linux).
 */
export function statCpuSeconds(file: string): number {
  try {
    const stat = readFileSync(file, 'utf8');
    // The fields after the command name, which is in parentheses and may itself hold spaces: utime and stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The ids of a process's live children (Linux /proc/<pid>/task/<tid>/children); empty when unreadable. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Sum of the peak RSS of a process's live children (e.g. hookd's condition sandbox), MB; 0 when it has none. */
export const childrenPeakRssMb = (pid: number): number =>
  childrenOf(pid).map((child) => peakRssMb(child)).filter((mb) => !Number.isNaN(mb)).reduce((a, b) => a + b, 0);

export const currentRssMb = (pid: number | 'self' = 'self'): number => procStatusMb(pid, 'VmRSS');

export const round = (value: number, digits = 2): number => {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
