// Where a benchmark's CPU went, by part of the stack: on a 2-core machine the parts compete for
// the same cores, so the part that burns the most CPU per operation is the one to make cheaper.
import { readdirSync, readFileSync } from 'node:fs';
import type { BenchStack } from './stack.js';

export const CPU_ROLES = ['worker', 'api', 'temporal', 'postgres', 'lab'] as const;
export type CpuRole = (typeof CPU_ROLES)[number];

/** USER_HZ: /proc reports CPU times in these on every Linux architecture node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcessStat {
  pid: number;
  ppid: number;
  /** Its own CPU seconds and those of its children it has reaped (an exited agent, a closed pg backend). */
  cpuSeconds: number;
  commandLine: string;
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces); undefined once it is gone. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU time (user + system, seconds) the process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  // utime and stime are the 12th and 13th fields, in clock ticks.
  return fields ? (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND : 0;
}

function readProcesses(): ProcessStat[] {
  const processes: ProcessStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (!fields) continue;
    try {
      processes.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        // utime, stime, cutime, cstime.
        cpuSeconds: fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / CLOCK_TICKS_PER_SECOND,
        commandLine: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '),
      });
    } catch {
      // Gone between the reads.
    }
  }
  return processes;
}

const isPostmasterIn = (p: ProcessStat, folder: string | undefined) =>
  folder !== undefined && /\/postgres -D /.test(p.commandLine) && p.commandLine.includes(folder);

/** CPU seconds so far of each part: the stack's processes and their descendants, and its PostgreSQL cluster. */
function cpuByRole(stack: BenchStack): Record<CpuRole, number> {
  const processes = readProcesses();
  const children = new Map<number, ProcessStat[]>();
  for (const p of processes) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid)!.push(p);
  }
  const totals: Record<CpuRole, number> = { worker: 0, api: 0, temporal: 0, postgres: 0, lab: 0 };
  const add = (root: ProcessStat, role: CpuRole) => {
    totals[role] += root.cpuSeconds;
    for (const child of children.get(root.pid) ?? []) add(child, role);
  };
  for (const p of processes) {
    if (p.pid === stack.workerPid) add(p, 'worker');
    else if (p.pid === stack.apiPid) add(p, 'api');
    else if (p.pid === stack.temporalPid) add(p, 'temporal');
    // pg_ctl detaches the postmaster; its folder tells the clusters apart. Temporal's own cluster
    // (BENCH_TEMPORAL=postgres) is its storage, counted as Temporal as the dev server's SQLite is.
    else if (isPostmasterIn(p, stack.temporalStorage)) add(p, 'temporal');
    else if (isPostmasterIn(p, stack.scratch)) add(p, 'postgres');
    // The benchmark's own process runs the lab (BMCs, light agents) and reaps the agents that exit.
    else if (p.pid === process.pid) totals.lab += p.cpuSeconds;
    else if (p.ppid === process.pid && p.commandLine.includes('agent/main.js')) add(p, 'lab');
  }
  return totals;
}

/** Starts counting; stop() gives the CPU seconds each part used since. */
export function sampleCpu(stack: BenchStack): { stop(): Record<CpuRole, number> } {
  const start = cpuByRole(stack);
  return {
    stop() {
      const end = cpuByRole(stack);
      return Object.fromEntries(CPU_ROLES.map((role) => [role, end[role] - start[role]])) as Record<CpuRole, number>;
    },
  };
}

/** One line: CPU milliseconds per operation, by part, and the share of the machine the run used. */
export function formatCpu(used: Record<CpuRole, number>, operations: number, elapsedSeconds: number, cores: number) {
  const total = CPU_ROLES.reduce((sum, role) => sum + used[role], 0);
  const perOperation = CPU_ROLES.map((role) => `${role} ${((used[role] / operations) * 1000).toFixed(0)}`).join(', ');
  return (
    `${((total / operations) * 1000).toFixed(0)} (${perOperation}); ` +
    `${((total / (elapsedSeconds * cores)) * 100).toFixed(0)}% of ${cores} cores`
  );
}
