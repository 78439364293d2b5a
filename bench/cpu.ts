/**
 * Who used the machine during a run: all CPU time (/proc/stat) split into the benchmark's own (this process,
 * its descendants — actors, nats-server — and the Postgres backends serving its databases) and everything
 * else ("foreign": other people's builds and tests on a shared machine). Linux only; elsewhere null.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export interface CpuSample {
  at: number;
  /** busy ticks of the whole machine */
  busy: number;
  /** ticks of the benchmark's processes (live ones; see above) */
  mine: number;
  /** the same by group: loadgen, nats, postgres, and each actor kind (all participants together) */
  groups: Map<string, number>;
}

export interface CpuUse {
  seconds: number;
  /** cores busy on average, whole machine */
  machineCores: number;
  /** cores used by the benchmark (load generator, actors, nats-server, its Postgres backends) */
  benchCores: number;
  /** cores used by everything else */
  foreignCores: number;
  /** benchCores by group (loadgen, nats, postgres, gateway, consensus, executor, state, privateState, tm, enclave; hardhat for the peer) */
  groups: Record<string, number>;
}

function procStat(pid: string): { ppid: number; ticks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after the command: state(0) ppid(1) … utime(11) stime(12)
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

export function sampleCpu(dbPrefix: string): CpuSample | null {
  let busy: number;
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest is within user)
    busy = total - cpu[3] - cpu[4];
  } catch {
    return null;
  }
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(d);
    if (st) procs.set(Number(d), st);
  }
  const mineSet = new Set<number>([process.pid]);
  // descendants: repeat until no change (the tree is shallow)
  for (let changed = true; changed; ) {
    changed = false;
    for (const [pid, st] of procs) {
      if (!mineSet.has(pid) && mineSet.has(st.ppid)) {
        mineSet.add(pid);
        changed = true;
      }
    }
  }
  let mine = 0;
  const groups = new Map<string, number>();
  const add = (g: string, t: number) => {
    mine += t;
    groups.set(g, (groups.get(g) ?? 0) + t);
  };
  for (const [pid, st] of procs) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    if (mineSet.has(pid)) add(groupOf(pid, cmd), st.ticks);
    else if (dbPrefix && cmd.startsWith('postgres: ') && cmd.includes(dbPrefix)) add('postgres', st.ticks);
  }
  return { at: performance.now(), busy, mine, groups };
}

const ACTOR_GROUP: [RegExp, string][] = [
  [/actors\/ledger\/state\/private-main\.js/, 'privateState'],
  [/actors\/ledger\/state\/main\.js/, 'state'],
  [/actors\/ledger\/executor\/main\.js/, 'executor'],
  [/actors\/(\w+)\/main\.js/, '$1'],
];

function groupOf(pid: number, cmd: string): string {
  if (pid === process.pid) return 'loadgen';
  if (cmd.includes('nats-server')) return 'nats';
  if (cmd.includes('hardhat')) return 'hardhat';
  for (const [re, name] of ACTOR_GROUP) {
    const m = re.exec(cmd);
    if (m) return name.replace('$1', m[1] ?? '');
  }
  return 'other';
}

export function cpuBetween(a: CpuSample | null, b: CpuSample | null): CpuUse | null {
  if (!a || !b || b.at <= a.at) return null;
  const seconds = (b.at - a.at) / 1000;
  const machine = (b.busy - a.busy) / TICKS_PER_S / seconds;
  const bench = Math.max(0, (b.mine - a.mine) / TICKS_PER_S / seconds);
  const groups: Record<string, number> = {};
  for (const [g, t] of b.groups) groups[g] = Math.max(0, (t - (a.groups.get(g) ?? 0)) / TICKS_PER_S / seconds);
  return { seconds, machineCores: machine, benchCores: bench, foreignCores: Math.max(0, machine - bench), groups };
}
