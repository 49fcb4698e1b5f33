/**
 * A lab of simulated hosts on one machine: a bridge on the host and one
 * network namespace per node, each joined to the bridge by a veth pair whose
 * inside end is `eth0`, with an address on a private /24 and a default route
 * via the bridge.
 *
 * Labs running in parallel (in other test processes) never collide: each
 * claims, under a lock file, a bridge name `sk-lab<N>` and a 192.168.x.0/24
 * that no address or route on the host already uses. Node namespaces are
 * named `<lab>-n<i>`, so they never clash with pod namespaces, which share
 * /run/netns.
 *
 * @module
 */

import { run, type RunOptions, type RunResult, sleep } from "./_run.ts";

/** Options for {@linkcode createLab}. */
export interface CreateLabOptions {
  /** Number of nodes, 1 to 99. */
  nodes: number;
  /**
   * The lab's /24, e.g. `"192.168.150.0/24"`; the bridge gets `.1` and node
   * `i` gets `.(i + 2)`. Default: a free 192.168.x.0/24.
   */
  subnet?: string;
  /**
   * Lab name, used for the bridge and as the prefix of every namespace and
   * link: 1 to 10 of `a-z`, `0-9`, `-`, starting with a letter.
   * Default: the first free `sk-lab<N>`.
   */
  name?: string;
}

/** One simulated host of a lab. */
export interface LabNode {
  /** Position in {@linkcode Lab.nodes}, from 0. */
  readonly index: number;
  /** Network namespace name (in /run/netns), e.g. `sk-lab0-n1`. */
  readonly netns: string;
  /** IPv4 address of the node's `eth0`, without prefix length. */
  readonly address: string;
  /** Name of the host end of the node's veth pair (a bridge port). */
  readonly hostVeth: string;
}

/** A running lab; `await using` destroys it at the end of the scope. */
export interface Lab extends AsyncDisposable {
  /** Lab name; also the bridge's name. */
  readonly name: string;
  /** Name of the bridge on the host. */
  readonly bridge: string;
  /** The lab's subnet, e.g. `192.168.100.0/24`. */
  readonly subnet: string;
  /** The bridge's address: every node's default gateway. */
  readonly gateway: string;
  /** The nodes, in order. */
  readonly nodes: readonly LabNode[];
  /**
   * Runs `cmd` inside a node's network namespace (`ip netns exec`) and
   * returns its output; throws on a non-zero exit unless `check: false`.
   */
  exec(
    node: number | LabNode,
    cmd: readonly string[],
    options?: RunOptions,
  ): Promise<RunResult>;
  /**
   * Starts a long-running `cmd` inside a node's network namespace; the caller
   * owns the returned process and must end it.
   */
  spawn(
    node: number | LabNode,
    cmd: readonly string[],
    options?: Omit<Deno.CommandOptions, "args">,
  ): Deno.ChildProcess;
  /** Cuts a node off the lab by taking the host end of its veth down. */
  partition(node: number | LabNode): Promise<void>;
  /** Reconnects a partitioned node. */
  heal(node: number | LabNode): Promise<void>;
  /**
   * Removes the lab: ends any process still inside a node namespace
   * (SIGTERM, then SIGKILL after 2 s), deletes the namespaces, the veth
   * pairs and the bridge. Safe to call more than once.
   */
  destroy(): Promise<void>;
}

const LOCK_FILE = "/run/skiff-netns-lab.lock";
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,9}$/;

/**
 * Creates a lab of `nodes` simulated hosts. Needs root and iproute2.
 *
 * @example
 * ```ts
 * await using lab = await createLab({ nodes: 2 });
 * await lab.exec(0, ["busybox", "ping", "-c", "1", lab.nodes[1]!.address]);
 * ```
 * @throws {RangeError} for a node count, subnet or name that is not valid or
 *   already in use.
 */
export async function createLab(options: CreateLabOptions): Promise<Lab> {
  const count = options.nodes;
  if (!Number.isInteger(count) || count < 1 || count > 99) {
    throw new RangeError(
      `Invalid option "nodes": ${count} is not a whole number from 1 to 99`,
    );
  }
  if (options.name !== undefined && !NAME_PATTERN.test(options.name)) {
    throw new RangeError(
      `Invalid option "name": "${options.name}" must be 1 to 10 of a-z, 0-9, "-", starting with a letter`,
    );
  }
  const requestedBase = options.subnet === undefined ? undefined : parseSubnet(options.subnet);

  const { name, base } = await withLock(() => claim(options.name, requestedBase));
  const prefix = intToIp(base).split(".").slice(0, 3).join(".");
  const nodes: LabNode[] = Array.from({ length: count }, (_, index) => ({
    index,
    netns: `${name}-n${index}`,
    address: `${prefix}.${index + 2}`,
    hostVeth: `${name}v${index}`,
  }));

  const nodeOf = (node: number | LabNode): LabNode => {
    const found = typeof node === "number" ? nodes[node] : nodes[node.index];
    if (found === undefined || (typeof node !== "number" && found !== node)) {
      throw new RangeError(
        `Lab "${name}" has no node ${typeof node === "number" ? node : `"${node.netns}"`}`,
      );
    }
    return found;
  };

  let destroyed: Promise<void> | undefined;
  const lab: Lab = {
    name,
    bridge: name,
    subnet: `${prefix}.0/24`,
    gateway: `${prefix}.1`,
    nodes,
    exec: async (node, cmd, runOptions) =>
      await run(
        ["ip", "netns", "exec", nodeOf(node).netns, ...cmd],
        runOptions,
      ),
    spawn: (node, cmd, spawnOptions = {}) =>
      new Deno.Command("ip", {
        ...spawnOptions,
        args: ["netns", "exec", nodeOf(node).netns, ...cmd],
      }).spawn(),
    partition: async (node) => {
      await run(["ip", "link", "set", nodeOf(node).hostVeth, "down"]);
    },
    heal: async (node) => {
      await run(["ip", "link", "set", nodeOf(node).hostVeth, "up"]);
    },
    destroy: () => destroyed ??= destroyLab(name, nodes),
    [Symbol.asyncDispose]: () => lab.destroy(),
  };

  try {
    for (const node of nodes) await addNode(lab, node);
  } catch (error) {
    await lab.destroy();
    throw error;
  }
  return lab;
}

/** Creates one node's namespace, veth pair, address, route and sysctls. */
async function addNode(lab: Lab, node: LabNode): Promise<void> {
  const ns = node.netns;
  await run(["ip", "netns", "add", ns]);
  await run([
    "ip",
    "link",
    "add",
    node.hostVeth,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    ns,
  ]);
  await run(["ip", "link", "set", node.hostVeth, "master", lab.bridge, "up"]);
  await run(["ip", "-n", ns, "addr", "add", `${node.address}/24`, "dev", "eth0"]);
  await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
  await run(["ip", "-n", ns, "route", "add", "default", "via", lab.gateway]);
  await run([
    "ip",
    "netns",
    "exec",
    ns,
    "sh",
    "-c",
    "echo 1 > /proc/sys/net/ipv4/ip_forward && " +
    "for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done",
  ]);
}

async function destroyLab(
  name: string,
  nodes: readonly LabNode[],
): Promise<void> {
  const existing = new Set(await listNetns());
  for (const node of nodes) {
    if (existing.has(node.netns)) await endProcessesIn(node.netns);
    await run(["ip", "netns", "del", node.netns], { check: false });
    await run(["ip", "link", "del", node.hostVeth], { check: false });
  }
  await run(["ip", "link", "del", name], { check: false });
}

/** SIGTERM every process in a namespace, then SIGKILL what is left after 2 s. */
async function endProcessesIn(netns: string): Promise<void> {
  const pids = async () => {
    const result = await run(["ip", "netns", "pids", netns], { check: false });
    return result.stdout.split("\n").map(Number).filter((pid) => pid > 0 && pid !== Deno.pid);
  };
  let left = await pids();
  if (left.length === 0) return;
  for (const pid of left) kill(pid, "SIGTERM");
  const deadline = Date.now() + 2_000;
  while ((left = await pids()).length > 0 && Date.now() < deadline) {
    await sleep(50);
  }
  for (const pid of left) kill(pid, "SIGKILL");
}

function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Under the lock: picks the lab name and subnet, creates the bridge with its
 * address so that later claims see both, and removes namespaces left behind
 * by a crashed lab of the same name.
 */
async function claim(
  requestedName: string | undefined,
  requestedBase: number | undefined,
): Promise<{ name: string; base: number }> {
  const links = new Set(
    (JSON.parse((await run(["ip", "-j", "link", "show"])).stdout) as {
      ifname: string;
    }[]).map((link) => link.ifname),
  );
  let name = requestedName;
  if (name === undefined) {
    for (let n = 0; name === undefined; n++) {
      if (!links.has(`sk-lab${n}`)) name = `sk-lab${n}`;
    }
  } else if (links.has(name)) {
    throw new RangeError(
      `Invalid option "name": lab "${name}" is in use (link "${name}" exists)`,
    );
  }

  const used = await usedNetworks();
  let base = requestedBase;
  if (base !== undefined) {
    const clash = used.find((net) => overlaps(net, { base: base!, bits: 24 }));
    if (clash !== undefined) {
      throw new RangeError(
        `Invalid option "subnet": ${intToIp(base)}/24 overlaps ${clash.text}, which is in use on this host`,
      );
    }
  } else {
    for (let x = 100; x <= 254 && base === undefined; x++) {
      const candidate = ipToInt(`192.168.${x}.0`);
      if (!used.some((net) => overlaps(net, { base: candidate, bits: 24 }))) {
        base = candidate;
      }
    }
    if (base === undefined) {
      throw new RangeError(
        "Cannot create a lab: every 192.168.100-254.0/24 is in use on this host",
      );
    }
  }

  await run(["ip", "link", "add", name, "type", "bridge"]);
  try {
    await run(["ip", "addr", "add", `${intToIp(base + 1)}/24`, "dev", name]);
    await run(["ip", "link", "set", name, "up"]);
  } catch (error) {
    await run(["ip", "link", "del", name], { check: false });
    throw error;
  }
  for (const netns of await listNetns()) {
    if (netns.startsWith(`${name}-n`)) {
      await run(["ip", "netns", "del", netns], { check: false });
    }
  }
  return { name, base };
}

async function listNetns(): Promise<string[]> {
  const out = (await run(["ip", "-j", "netns", "list"])).stdout.trim();
  if (out === "") return [];
  return (JSON.parse(out) as { name: string }[]).map((ns) => ns.name);
}

interface Network {
  base: number;
  bits: number;
  text: string;
}

/** IPv4 networks of every address and route on the host. */
async function usedNetworks(): Promise<Network[]> {
  const found: Network[] = [];
  const addresses = JSON.parse(
    (await run(["ip", "-j", "-4", "addr", "show"])).stdout,
  ) as { addr_info?: { local?: string; prefixlen?: number }[] }[];
  for (const link of addresses) {
    for (const info of link.addr_info ?? []) {
      if (info.local === undefined || info.prefixlen === undefined) continue;
      found.push(network(info.local, info.prefixlen));
    }
  }
  const routes = JSON.parse(
    (await run(["ip", "-j", "-4", "route", "show", "table", "all"])).stdout,
  ) as { dst?: string }[];
  for (const route of routes) {
    const match = route.dst?.match(/^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/);
    if (!match || match[1] === "0.0.0.0") continue;
    found.push(network(match[1]!, Number(match[2] ?? 32)));
  }
  return found;
}

function network(ip: string, bits: number): Network {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return {
    base: (ipToInt(ip) & mask) >>> 0,
    bits,
    text: `${ip}/${bits}`,
  };
}

function overlaps(
  a: { base: number; bits: number },
  b: { base: number; bits: number },
): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

function parseSubnet(subnet: string): number {
  const match = subnet.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/);
  const octets = match?.slice(1, 4).map(Number);
  if (!octets || octets.some((o) => o > 255)) {
    throw new RangeError(
      `Invalid option "subnet": "${subnet}" is not an IPv4 /24 like "192.168.150.0/24"`,
    );
  }
  return ipToInt(`${octets.join(".")}.0`);
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, octet) => (n * 256) + Number(octet), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

/** Runs `fn` holding the machine-wide lab lock. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const file = await Deno.open(LOCK_FILE, {
    read: true,
    write: true,
    create: true,
  });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}
