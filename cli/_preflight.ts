/**
 * `skiff up`'s preflight: what this machine needs before it runs a
 * cluster (root, containerd, runc, CNI plugins, nft, iproute2, the cgroup
 * memory controller, ip_forward, free ports, disk space), one row per
 * check. Missing Debian packages are installed with apt when running as
 * root (unless `--no-install`), ip_forward is switched on by writing 1, and
 * whatever cannot be fixed here is refused with the fix spelled out.
 *
 * Every check is a pure function over a {@linkcode PreflightEnv}: PATH,
 * file contents (`/proc/cgroups`, `/proc/cmdline`,
 * `/proc/device-tree/model`, `/proc/sys/net/ipv4/ip_forward`), port probes
 * and `df`, so tests simulate a Raspberry Pi without the memory cgroup, or
 * a machine without runc.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { AGENT_PORT, DEFAULT_CNI_BIN_DIR } from "@skiff/node-agent";
import { renderTable } from "./_table.ts";

/** What the preflight reads from the machine; {@linkcode systemEnv} reads the real one. */
export interface PreflightEnv {
  /** The effective user id (null where there is none). */
  uid: number | null;
  /** The PATH programs are looked for on, colon-separated. */
  path: string;
  /** Whether `file` is an executable regular file. */
  isExecutable(file: string): boolean;
  /** Whether `path` is a directory. */
  isDirectory(path: string): boolean;
  /** A file's text, or undefined when it cannot be read. */
  readFile(file: string): string | undefined;
  /** Writes a file (ip_forward's fix). */
  writeFile(file: string, text: string): void;
  /** Whether TCP `port` can be listened on at `hostname`. */
  portFree(port: number, hostname: string): boolean;
  /** Runs a program to its end, each output line handed to `onLine`; resolves with its exit code and output. */
  run(command: readonly string[], onLine?: (line: string) => void): Promise<{ code: number; output: string }>;
}

/**
 * A check's outcome: `ok`; `warn` (works, with less); `missing` (a Debian
 * package apt installs); `fixable` (skiff fixes it when root); `fail`
 * (only a person can fix it).
 */
export type PreflightStatus = "ok" | "warn" | "missing" | "fixable" | "fail";

/** One row of the preflight table. */
export interface PreflightCheck {
  /** What is checked, e.g. `containerd`. */
  name: string;
  /** The outcome. */
  status: PreflightStatus;
  /** What was found, e.g. `/usr/bin/containerd`, or what is wrong. */
  detail: string;
  /** How to fix it, spelled out (for every status but `ok`). */
  fix?: string;
  /** Debian packages that fix a `missing` row. */
  packages?: string[];
}

/** What {@linkcode checkMachine} checks for. */
export interface PreflightOptions {
  /** The data directory (its filesystem must have room). */
  dataDir: string;
  /** The API server's port (0: any, not checked). */
  apiPort: number;
  /** The API server's bind address. */
  bind: string;
  /** A local agent will run: containers, networks and volumes are checked too. */
  agent: boolean;
  /** The agent's logs and exec port (default 10250). */
  agentPort?: number;
}

/** Below this many free bytes the data directory's filesystem fails the check. */
export const MIN_FREE_BYTES = 1024 ** 3;
/** Below this many free bytes the disk check warns. */
export const LOW_FREE_BYTES = 5 * 1024 ** 3;
/** The kernel parameters that turn the memory cgroup on on a Raspberry Pi. */
export const PI_CGROUP_PARAMETERS = "cgroup_memory=1 cgroup_enable=memory";
/** The CNI plugins the pod network runs. */
export const REQUIRED_CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"] as const;

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

/** The programs checked, with the Debian package that provides them. */
const PROGRAMS: readonly { name: string; programs: string[]; pkg: string; why: string }[] = [
  {
    name: "containerd",
    programs: ["containerd", "ctr", "containerd-shim-runc-v2"],
    pkg: "containerd",
    why: "runs containers",
  },
  { name: "runc", programs: ["runc"], pkg: "runc", why: "starts containers" },
  { name: "nft", programs: ["nft"], pkg: "nftables", why: "routes Service traffic" },
  { name: "iproute2", programs: ["ip"], pkg: "iproute2", why: "sets up pod networks and routes" },
];

/** The absolute path of `name` on the env's PATH, or undefined. */
export function findOnPath(env: Pick<PreflightEnv, "path" | "isExecutable">, name: string): string | undefined {
  for (const dir of env.path.split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (env.isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** The root check: containers, networks and mounts need root. */
export function checkRoot(env: Pick<PreflightEnv, "uid">): PreflightCheck {
  if (env.uid === 0) return { name: "root", status: "ok", detail: "running as root" };
  return {
    name: "root",
    status: "fail",
    detail: `running as uid ${env.uid ?? "unknown"}`,
    fix: "run as root (`sudo deno task up`), or pass --no-agent to run only the control plane",
  };
}

/** One row per program group (containerd, runc, nft, iproute2): where it is, or the package that brings it. */
export function checkPrograms(env: Pick<PreflightEnv, "path" | "isExecutable">): PreflightCheck[] {
  return PROGRAMS.map(({ name, programs, pkg, why }) => {
    const found = programs.map((program) => [program, findOnPath(env, program)] as const);
    const absent = found.filter(([, path]) => path === undefined).map(([program]) => program);
    if (absent.length === 0) return { name, status: "ok", detail: found[0]![1]! };
    return {
      name,
      status: "missing",
      detail: `${absent.map((p) => `"${p}"`).join(", ")} not found on PATH (${why})`,
      fix: `apt-get install -y ${pkg}`,
      packages: [pkg],
    };
  });
}

/** The CNI plugins the pod network runs, in `cniDir` (default `/usr/lib/cni`). */
export function checkCniPlugins(
  env: Pick<PreflightEnv, "isExecutable">,
  cniDir: string = DEFAULT_CNI_BIN_DIR,
): PreflightCheck {
  const absent = REQUIRED_CNI_PLUGINS.filter((plugin) => !env.isExecutable(join(cniDir, plugin)));
  if (absent.length === 0) {
    return { name: "CNI plugins", status: "ok", detail: `${REQUIRED_CNI_PLUGINS.join(", ")} in ${cniDir}` };
  }
  return {
    name: "CNI plugins",
    status: "missing",
    detail: `${absent.join(", ")} missing from ${cniDir}`,
    fix: "apt-get install -y containernetworking-plugins",
    packages: ["containernetworking-plugins"],
  };
}

/** The board's model from `/proc/device-tree/model` (NUL-terminated there), or undefined. */
export function boardModel(env: Pick<PreflightEnv, "readFile">): string | undefined {
  const model = env.readFile("/proc/device-tree/model")?.replace(/\0/g, "").trim();
  return model ? model : undefined;
}

/** Whether `/proc/cgroups` lists the memory controller as enabled; undefined when it lists no memory row. */
export function memoryControllerEnabled(procCgroups: string): boolean | undefined {
  for (const line of procCgroups.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === "memory" && fields.length >= 4) return fields[3] === "1";
  }
  return undefined;
}

/**
 * The memory cgroup controller, which container memory limits need. On a
 * Raspberry Pi the fix is the exact `cmdline.txt` change; elsewhere, the
 * kernel command line in GRUB.
 */
export function checkMemoryCgroup(env: Pick<PreflightEnv, "readFile">): PreflightCheck {
  const procCgroups = env.readFile("/proc/cgroups");
  let enabled = procCgroups === undefined ? undefined : memoryControllerEnabled(procCgroups);
  if (enabled === undefined) {
    const controllers = env.readFile("/sys/fs/cgroup/cgroup.controllers");
    if (controllers !== undefined) enabled = controllers.split(/\s+/).includes("memory");
  }
  if (enabled) return { name: "memory cgroup", status: "ok", detail: "the memory controller is enabled" };
  const cmdline = (env.readFile("/proc/cmdline") ?? "").trim();
  const disabledBy = cmdline.split(/\s+/).find((word) => word === "cgroup_disable=memory");
  const model = boardModel(env);
  const why = enabled === undefined
    ? "the kernel lists no memory cgroup controller"
    : `the memory cgroup controller is disabled${disabledBy ? ` (the kernel was booted with ${disabledBy})` : ""}`;
  if (model?.startsWith("Raspberry Pi")) {
    const file = env.readFile("/boot/firmware/cmdline.txt") !== undefined
      ? "/boot/firmware/cmdline.txt"
      : "/boot/cmdline.txt";
    return {
      name: "memory cgroup",
      status: "fail",
      detail: `${why} on this ${model}`,
      fix: `add "${PI_CGROUP_PARAMETERS}" to the end of the single line in ${file}, then reboot: ` +
        `sudo sed -i '1 s/$/ ${PI_CGROUP_PARAMETERS}/' ${file} && sudo reboot`,
    };
  }
  return {
    name: "memory cgroup",
    status: "fail",
    detail: why,
    fix: 'add "cgroup_enable=memory" to GRUB_CMDLINE_LINUX in /etc/default/grub' +
      `${disabledBy ? ` and remove ${disabledBy}` : ""}, then run update-grub and reboot`,
  };
}

/** IPv4 forwarding, which pod traffic leaving the node needs; skiff writes 1 when root. */
export function checkIpForward(env: Pick<PreflightEnv, "readFile">): PreflightCheck {
  const value = env.readFile(IP_FORWARD)?.trim();
  if (value === "1") return { name: "ip_forward", status: "ok", detail: `${IP_FORWARD} is 1` };
  return {
    name: "ip_forward",
    status: "fixable",
    detail: value === undefined ? `${IP_FORWARD} cannot be read` : `${IP_FORWARD} is ${value}`,
    fix:
      `skiff up writes 1 to ${IP_FORWARD} at each start when run as root (by hand: sysctl -w net.ipv4.ip_forward=1; ` +
      "to keep it across reboots: echo net.ipv4.ip_forward=1 > /etc/sysctl.d/99-skiff.conf)",
  };
}

/** The API port (a failure when taken) and, with an agent, its logs and exec port (a warning when taken). */
export function checkPorts(env: Pick<PreflightEnv, "portFree">, options: PreflightOptions): PreflightCheck[] {
  const rows: PreflightCheck[] = [];
  if (options.apiPort !== 0) {
    const free = env.portFree(options.apiPort, options.bind);
    rows.push(
      free ? { name: "API port", status: "ok", detail: `${options.bind}:${options.apiPort} is free` } : {
        name: "API port",
        status: "fail",
        detail: `${options.bind}:${options.apiPort} is in use`,
        fix: `stop what listens there (ss -ltnp 'sport = :${options.apiPort}' shows it; another skiff up, k3s?), ` +
          "or pass --port",
      },
    );
  }
  const agentPort = options.agentPort ?? AGENT_PORT;
  if (options.agent && agentPort !== 0) {
    const free = env.portFree(agentPort, "0.0.0.0");
    rows.push(
      free ? { name: "agent port", status: "ok", detail: `0.0.0.0:${agentPort} is free` } : {
        name: "agent port",
        status: "warn",
        detail: `0.0.0.0:${agentPort} is in use: skiff logs and skiff exec will not reach pods on this node`,
        fix: `stop what listens there (ss -ltnp 'sport = :${agentPort}' shows it; a kubelet?)`,
      },
    );
  }
  return rows;
}

/** The free bytes `df -Pk` reports for its one filesystem, or undefined when the output has none. */
export function parseDfAvailable(output: string): number | undefined {
  const lines = output.trim().split("\n");
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  const column = header.findIndex((name) => /^avail/i.test(name));
  const fields = lines[1]?.trim().split(/\s+/);
  if (column < 0 || !fields) return undefined;
  const kib = Number(fields[column]);
  return Number.isFinite(kib) ? kib * 1024 : undefined;
}

/** The disk row for `df -Pk`'s output on the data directory's filesystem. */
export function diskCheck(dataDir: string, dfOutput: string | undefined): PreflightCheck {
  const free = dfOutput === undefined ? undefined : parseDfAvailable(dfOutput);
  if (free === undefined) {
    return {
      name: "disk space",
      status: "warn",
      detail: `df did not tell the free space of ${dataDir}`,
      fix: `check that ${dataDir} has at least 1 GiB free (df -h ${dataDir})`,
    };
  }
  const shown = `${(free / 1024 ** 3).toFixed(1)} GiB free for ${dataDir}`;
  if (free < MIN_FREE_BYTES) {
    return {
      name: "disk space",
      status: "fail",
      detail: shown,
      fix: `free at least 1 GiB there (the store, images and volumes live in it), or pass --data-dir on a larger disk`,
    };
  }
  if (free < LOW_FREE_BYTES) {
    return {
      name: "disk space",
      status: "warn",
      detail: `${shown}: images and volumes will fill it soon`,
      fix: "free some space, or pass --data-dir on a larger disk",
    };
  }
  return { name: "disk space", status: "ok", detail: shown };
}

/**
 * Volume size limits (csi-local's `--enforce-size`): loop devices and
 * mkfs.ext4. Without loop devices volumes still work, without a size
 * limit.
 */
export function checkVolumeLimits(env: Pick<PreflightEnv, "path" | "isExecutable" | "readFile">): PreflightCheck {
  const loop = env.readFile("/proc/devices")?.split("\n").some((line) => /^\s*\d+\s+loop$/.test(line)) ?? false;
  const programs = ["mkfs.ext4", "losetup", "mount"];
  const absent = programs.filter((program) => findOnPath(env, program) === undefined);
  if (absent.includes("mkfs.ext4")) {
    return {
      name: "volume size limits",
      status: "missing",
      detail: '"mkfs.ext4" not found on PATH (volumes are ext4 images of their requested size)',
      fix: "apt-get install -y e2fsprogs",
      packages: ["e2fsprogs"],
    };
  }
  if (!loop || absent.length > 0) {
    return {
      name: "volume size limits",
      status: "warn",
      detail: `off: ${
        loop ? `${absent.map((p) => `"${p}"`).join(", ")} not found on PATH` : "the kernel has no loop devices"
      }; volumes can grow past their requested size`,
      fix: loop ? "apt-get install -y mount util-linux" : "load the loop module (modprobe loop)",
    };
  }
  return { name: "volume size limits", status: "ok", detail: "on: each volume is an ext4 image of its size" };
}

/** The data directory, or its nearest existing parent (what `df` can be asked about). */
export function existingAncestor(env: Pick<PreflightEnv, "isDirectory">, dir: string): string {
  let current = resolve(dir);
  while (!env.isDirectory(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/**
 * Runs every check. With `agent: false` only the control plane's needs
 * (ports, disk) are checked.
 */
export async function checkMachine(env: PreflightEnv, options: PreflightOptions): Promise<PreflightCheck[]> {
  const rows: PreflightCheck[] = [];
  if (options.agent) {
    rows.push(checkRoot(env), ...checkPrograms(env), checkCniPlugins(env), checkMemoryCgroup(env), checkIpForward(env));
  }
  rows.push(...checkPorts(env, options));
  const dir = existingAncestor(env, options.dataDir);
  const df = await env.run(["df", "-Pk", dir]).catch(() => undefined);
  rows.push(diskCheck(options.dataDir, df?.code === 0 ? df.output : undefined));
  if (options.agent) rows.push(checkVolumeLimits(env));
  return rows;
}

/** The Debian packages the `missing` rows need, each once, in row order. */
export function packagesToInstall(rows: readonly PreflightCheck[]): string[] {
  return [...new Set(rows.flatMap((row) => row.status === "missing" ? row.packages ?? [] : []))];
}

const LABELS: Record<PreflightStatus, string> = {
  ok: "ok",
  warn: "warning",
  missing: "missing",
  fixable: "to fix",
  fail: "FAILED",
};

/** The preflight table: CHECK, STATUS, DETAIL, one row per check. */
export function formatPreflightTable(rows: readonly PreflightCheck[]): string {
  return renderTable([["CHECK", "STATUS", "DETAIL"], ...rows.map((row) => [row.name, LABELS[row.status], row.detail])]);
}

/** Options of {@linkcode runPreflight}. */
export interface RunPreflightOptions extends PreflightOptions {
  /** Install missing packages with apt when root (default true; `--no-install` makes it false). */
  install: boolean;
  /** Where the table and progress go, line by line. */
  print: (line: string) => void;
}

/** The machine cannot run the cluster: the message lists each problem with its fix. */
export class PreflightError extends Error {
  /** The rows that failed. */
  readonly failed: PreflightCheck[];

  /** Creates the error. */
  constructor(failed: PreflightCheck[]) {
    super(
      `This machine is not ready for skiff up: ${failed.map((row) => `${row.name}: ${row.detail}`).join("; ")}\n` +
        failed.map((row) => `  - ${row.name}: ${row.fix ?? "no known fix"}`).join("\n"),
    );
    this.name = "PreflightError";
    this.failed = failed;
  }
}

/**
 * Checks the machine, prints the table, installs what apt can (when root
 * and `install`), writes 1 to ip_forward (when root), checks again, and
 * returns the final rows; warnings are printed with their fix.
 *
 * @throws {PreflightError} listing every row that still fails, each with its fix
 */
export async function runPreflight(env: PreflightEnv, options: RunPreflightOptions): Promise<PreflightCheck[]> {
  const { print } = options;
  let rows = await checkMachine(env, options);
  print("Preflight:");
  for (const line of formatPreflightTable(rows).trimEnd().split("\n")) print(`  ${line}`);
  const root = env.uid === 0;
  let changed = false;
  const packages = packagesToInstall(rows);
  if (packages.length > 0 && root && options.install) {
    await installPackages(env, packages, print);
    changed = true;
  }
  if (root && rows.some((row) => row.name === "ip_forward" && row.status === "fixable")) {
    try {
      env.writeFile(IP_FORWARD, "1\n");
      print(`Wrote 1 to ${IP_FORWARD} (IPv4 forwarding on until reboot; skiff up sets it again at each start)`);
    } catch (error) {
      print(`Cannot write ${IP_FORWARD}: ${error instanceof Error ? error.message : error}`);
    }
    changed = true;
  }
  if (changed) {
    rows = await checkMachine(env, options);
    print("Preflight, after fixing:");
    for (const line of formatPreflightTable(rows).trimEnd().split("\n")) print(`  ${line}`);
  }
  for (const row of rows) {
    if (row.status === "warn") print(`Warning: ${row.name}: ${row.detail}; ${row.fix}`);
  }
  const failed = rows.flatMap((row): PreflightCheck[] => {
    if (row.status === "fail") return [row];
    if (row.status === "missing") {
      const how = !root
        ? `as root: ${row.fix}`
        : options.install
        ? `apt-get could not install it; run ${row.fix} and read its errors`
        : `${row.fix} (or run skiff up without --no-install)`;
      return [{ ...row, fix: how }];
    }
    if (row.status === "fixable") return [{ ...row, fix: root ? row.fix! : `as root: ${row.fix}` }];
    return [];
  });
  if (failed.length > 0) throw new PreflightError(failed);
  return rows;
}

/**
 * `apt-get update`, then `apt-get install -y --no-install-recommends
 * <packages>`, each output line printed as it comes.
 *
 * A failure is printed with apt-get's exit code and last lines; the
 * preflight's second look then tells what is still missing.
 */
export async function installPackages(
  env: Pick<PreflightEnv, "run">,
  packages: readonly string[],
  print: (line: string) => void,
): Promise<void> {
  const steps = [
    ["apt-get", "update"],
    ["apt-get", "install", "-y", "--no-install-recommends", ...packages],
  ];
  print(`Installing ${packages.join(", ")} with apt-get`);
  for (const command of steps) {
    print(`  $ ${command.join(" ")}`);
    const result = await env.run(command, (line) => print(`    ${line}`)).catch((error) => ({
      code: -1,
      output: error instanceof Error ? error.message : String(error),
    }));
    if (result.code !== 0) {
      const tail = result.output.trim().split("\n").slice(-3).join(" / ");
      // A failed update (offline, say) leaves the package lists there were: install may still work.
      print(`  ${command.join(" ")} failed (exit code ${result.code}): ${tail}`);
    }
  }
}

/** The real machine, with `overrides` (tests replace PATH or files). */
export function systemEnv(overrides: Partial<PreflightEnv> = {}): PreflightEnv {
  return {
    uid: Deno.uid(),
    path: Deno.env.get("PATH") ?? "",
    isExecutable: (file) => {
      try {
        const info = Deno.statSync(file);
        return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
      } catch {
        return false;
      }
    },
    isDirectory: (path) => {
      try {
        return Deno.statSync(path).isDirectory;
      } catch {
        return false;
      }
    },
    readFile: (file) => {
      try {
        return Deno.readTextFileSync(file);
      } catch {
        return undefined;
      }
    },
    writeFile: (file, text) => Deno.writeTextFileSync(file, text),
    portFree: (port, hostname) => {
      try {
        Deno.listen({ port, hostname }).close();
        return true;
      } catch {
        return false;
      }
    },
    run: runStreaming,
    ...overrides,
  };
}

/** Runs a program with `DEBIAN_FRONTEND=noninteractive`, streaming its output (both streams) line by line. */
async function runStreaming(
  command: readonly string[],
  onLine?: (line: string) => void,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      buffer += text;
      let nl;
      while ((nl = buffer.search(/[\r\n]/)) >= 0) {
        const line = buffer.slice(0, nl).trimEnd();
        buffer = buffer.slice(nl + 1);
        if (line) onLine?.(line);
      }
    }
    if (buffer.trim()) onLine?.(buffer.trimEnd());
  };
  const [status] = await Promise.all([child.status, read(child.stdout), read(child.stderr)]);
  return { code: status.code, output };
}
