/**
 * Process figures of the agent benchmark, read from /proc: CPU time of a
 * process, of the children it has waited for and of its live descendants;
 * its memory (RSS split into anonymous and file-backed pages, PSS); and
 * which mappings its resident memory lies in (/proc/<pid>/smaps).
 *
 * @module
 */

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds of a process. */
export interface CpuTimes {
  /** The process's own user plus system time. */
  own: number;
  /** User plus system time of its children that exited and were waited for (short commands: ctr, ip, CNI plugins). */
  waitedChildren: number;
  /** User plus system time of its descendants still running (long-lived helpers such as `ctr events`). */
  liveDescendants: number;
}

/** The fields of /proc/<pid>/stat after the command name, from `state` (field 3) on. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(")") + 2).trim().split(" ");
}

/** Field `n` (1-based, as in proc(5)) of a process's stat line. */
const field = (fields: string[], n: number) => Number(fields[n - 3]);

/** Pids of every live descendant of `pid` (children, their children, …). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const fields = statFields(Number(entry.name));
    if (!fields) continue;
    const parent = field(fields, 4);
    children.set(parent, [...children.get(parent) ?? [], Number(entry.name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * CPU seconds of `pid` so far.
 *
 * @throws {Error} when the process does not exist
 */
export function cpuTimes(pid: number): CpuTimes {
  const fields = statFields(pid);
  if (!fields) throw new Error(`Cannot read the CPU time of process ${pid}: it is not running`);
  let live = 0;
  for (const child of descendants(pid)) {
    const theirs = statFields(child);
    if (theirs) live += field(theirs, 14) + field(theirs, 15);
  }
  return {
    own: (field(fields, 14) + field(fields, 15)) / TICKS_PER_SECOND,
    waitedChildren: (field(fields, 16) + field(fields, 17)) / TICKS_PER_SECOND,
    liveDescendants: live / TICKS_PER_SECOND,
  };
}

/** Memory of a process, in MB (10^6 bytes). */
export interface MemoryFigures {
  /** Resident set size (VmRSS). */
  rss: number;
  /** Its anonymous part (RssAnon): heaps, stacks, JIT code. */
  anon: number;
  /** Its file-backed part (RssFile): the executable and libraries, shared with other processes running them. */
  file: number;
  /** Proportional set size: shared pages divided among the processes sharing them. */
  pss: number;
  /** Peak RSS (VmHWM). */
  peak: number;
}

const MB = 1e6;

/**
 * The memory of `pid`.
 *
 * @throws {Error} when the process does not exist
 */
export function memoryOf(pid: number): MemoryFigures {
  let status: string;
  let rollup: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
    rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  } catch (error) {
    throw new Error(`Cannot read the memory of process ${pid}: it is not running`, { cause: error });
  }
  const kb = (text: string, name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    if (!match) throw new Error(`Cannot read ${name} of process ${pid}: /proc/${pid} has no such line`);
    return Number(match[1]) * 1024 / MB;
  };
  return {
    rss: kb(status, "VmRSS"),
    anon: kb(status, "RssAnon"),
    file: kb(status, "RssFile"),
    pss: kb(rollup, "Pss"),
    peak: kb(status, "VmHWM"),
  };
}

/** Resident memory of the mappings of one kind, in MB. */
export interface MappingGroup {
  /** The mapped file, or `[anon]` for anonymous mappings, `[heap]`, `[stack]`, …. */
  name: string;
  /** Resident memory. */
  rss: number;
  /** Its anonymous part (private pages written to, for a file). */
  anonymous: number;
  /** How many mappings. */
  mappings: number;
}

/**
 * Where the resident memory of `pid` lies: its mappings grouped by what
 * they map, largest first, the `top` largest groups.
 */
export function residentByMapping(pid: number, top = 6): MappingGroup[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/smaps`);
  } catch (error) {
    throw new Error(`Cannot read the mappings of process ${pid}: it is not running`, { cause: error });
  }
  const groups = new Map<string, MappingGroup>();
  let current: MappingGroup | undefined;
  for (const line of text.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1] || "[anon]";
      current = groups.get(name) ?? { name, rss: 0, anonymous: 0, mappings: 0 };
      current.mappings++;
      groups.set(name, current);
      continue;
    }
    const size = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (!size || !current) continue;
    const mb = Number(size[2]) * 1024 / MB;
    if (size[1] === "Rss") current.rss += mb;
    else current.anonymous += mb;
  }
  return [...groups.values()]
    .sort((a, b) => b.rss - a.rss)
    .slice(0, top)
    .map((g) => ({ ...g, rss: round(g.rss), anonymous: round(g.anonymous) }));
}

const round = (value: number) => Number(value.toFixed(1));

/** Total RSS of `pids` that still run, in MB. */
export function rssOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      total += match ? Number(match[1]) * 1024 / MB : 0;
    } catch {
      // Ended meanwhile.
    }
  }
  return total;
}

/** The command name of a process (`comm`), or `undefined` once it has ended. */
export function commandName(pid: number): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return undefined;
  }
}

/** Whether process `pid` runs (exists and is not a zombie). */
export function isRunning(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== "Z";
}

/** The 1-minute load average of the machine. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}
