/**
 * Several real nodes on one machine: one control plane on the host (with
 * its scheduler and controllers), one containerd on the host shared by
 * every node, and a lab of network namespaces on a bridge
 * ({@linkcode createLab}), each running a real `skiff agent` process.
 *
 * Each agent runs as its own process inside its node's network namespace
 * (`nsenter --net=/run/netns/<node>`, so it keeps the host's mount
 * namespace and the pod namespaces it creates are visible to containerd),
 * with its own data directory, node name, token and containerd namespace
 * (`skiff-<node>`, the busybox image imported into each), and its lab
 * address as InternalIP. The control plane listens on the lab bridge's
 * address, which every node reaches. Each agent runs the whole cluster
 * network of its node: host-gw routes to the other nodes' pods, the
 * `ip skiff` nftables table (Services, NodePorts, masquerading) and the
 * cluster DNS on its pod bridge.
 *
 * Names are unique to the process and call (nodes `mn<pid>-<random>-n<i>`,
 * the lab's bridge and subnet claimed under a lock), so test files running
 * in parallel never collide. Disposing the cluster removes everything it
 * made, in this order, even when the start or a test failed half-way: the
 * agent processes, the nft tables and Skiff's routes in every node, the pod
 * network namespaces, the lab (processes left in it, node namespaces, veth
 * pairs, bridge), the control plane, containerd with every task, container
 * and image, and the temporary directory (unmounting what is mounted below).
 *
 * The API, for tests built on it:
 * - {@linkcode startMultiNodeCluster}`({ nodes, joinWithToken?, readyTimeoutMs? })`
 *   gives a {@linkcode MultiNodeCluster}: `client` (admin, in process),
 *   `plane`, `lab`, `containerd`, `nodes` ({@linkcode ClusterNode}: name,
 *   address, netns, containerdNamespace, dataDir, podCidr, running,
 *   output()), `exec(node, cmd)` in a node's namespace, `partition(node)` /
 *   `heal(node)` (host end of its veth down / up), `stopAgent(node)` (SIGKILL;
 *   containers, routes and rules stay) / `startAgent(node)` (waits for
 *   Ready), `podExec(pod, cmd)` / `podSpawn(pod, cmd)` in a pod's running
 *   container (through containerd, so it works while the agent is down),
 *   `nftTable(node)` (the node's `ip skiff` table as text), `createJoinToken()`
 *   and `destroy()` (also `await using`).
 * - {@linkcode spawnLabAgent} starts one `skiff agent` process in any lab
 *   node against any API server (a node, admin or join token), for tests
 *   whose control plane is not the cluster's own (e.g. one `skiff up` runs).
 * - {@linkcode createJoinToken} makes a join token (`K10<ca-hash>::<id>.<secret>`)
 *   through an admin client, as `skiff token create` does.
 * - {@linkcode removePodNamespaces} deletes the pod network namespaces
 *   killed agents left (the cluster does this itself).
 * - {@linkcode serviceEndpointIps} reads the endpoint addresses out of a
 *   node's `ip skiff` table text.
 *
 * @example
 * ```ts
 * await using cluster = await startMultiNodeCluster({ nodes: 3 });
 * await cluster.client.kind<Pod>("v1", "Pod").create(pod);
 * const reply = await cluster.podExec("client", ["wget", "-q", "-O", "-", "http://web/"]);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KubeObject, Node, Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { type ControlPlane, newToken, startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { formatJoinToken } from "@skiff/node-agent";
import { buildBusyboxImage } from "../fixtures/build_busybox.ts";
import { run, type RunOptions, type RunResult } from "./_run.ts";
import { type Containerd, startContainerd } from "./containerd.ts";
import { eventually } from "./eventually.ts";
import { createLab, type Lab, type LabNode } from "./netns_lab.ts";
import { createTempDir, type TempDir, uniqueName } from "./tmp.ts";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The programs a multi-node cluster needs, for `requireTools`. */
export const MULTI_NODE_TOOLS: readonly string[] = [
  "containerd",
  "containerd-shim-runc-v2",
  "ctr",
  "runc",
  "ip",
  "nft",
  "nsenter",
  "setsid",
  "busybox",
  "tar",
  "umount",
  "/usr/lib/cni/bridge",
  "/usr/lib/cni/host-local",
  "/usr/lib/cni/loopback",
  "/usr/lib/cni/portmap",
];

/** Install hints for {@linkcode MULTI_NODE_TOOLS} that `requireTools` does not know. */
export const MULTI_NODE_TOOL_HINTS: Readonly<Record<string, string>> = {
  setsid: "install: apt-get install -y util-linux",
};

/** Options for {@linkcode startMultiNodeCluster}. */
export interface MultiNodeClusterOptions {
  /** Number of nodes, 1 to 20. */
  nodes: number;
  /**
   * Join every node with one join token (`K10<ca-hash>::<id>.<secret>`, as
   * `skiff agent --server URL --token K10…` does) instead of giving each a
   * node token made for its name (default `false`).
   */
  joinWithToken?: boolean;
  /** How long to wait for every node to turn Ready (default 120000 ms). */
  readyTimeoutMs?: number;
}

/** One node of the cluster. */
export interface ClusterNode {
  /** Position in {@linkcode MultiNodeCluster.nodes}, from 0. */
  readonly index: number;
  /** The Node's name. */
  readonly name: string;
  /** Its lab address: the Node's InternalIP. */
  readonly address: string;
  /** Its network namespace, in /run/netns. */
  readonly netns: string;
  /** The containerd namespace of its containers. */
  readonly containerdNamespace: string;
  /** The agent's data directory. */
  readonly dataDir: string;
  /** Its pod CIDR (`spec.podCIDR`). */
  readonly podCidr: string;
  /** Whether its agent process runs. */
  readonly running: boolean;
  /** Everything its agent processes printed so far. */
  output(): string;
}

/** A running cluster; `await using` removes all of it at the end of the scope. */
export interface MultiNodeCluster extends AsyncDisposable {
  /** An admin client (in process). */
  readonly client: ApiClient;
  /** The control plane. */
  readonly plane: ControlPlane;
  /** The lab the nodes live in. */
  readonly lab: Lab;
  /** The containerd every node shares. */
  readonly containerd: Containerd;
  /** The nodes, in order. */
  readonly nodes: readonly ClusterNode[];
  /** A node by index or name. */
  node(node: number | string): ClusterNode;
  /** Runs a command inside a node's network namespace; throws on a non-zero exit unless `check: false`. */
  exec(node: number | string, cmd: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Cuts a node's link to the lab (its routes and addresses stay). */
  partition(node: number | string): Promise<void>;
  /** Restores a node's link. */
  heal(node: number | string): Promise<void>;
  /** Kills a node's agent with SIGKILL (its helper processes too); its containers, routes and rules stay. */
  stopAgent(node: number | string): Promise<void>;
  /** Starts a node's agent again (with its stored credentials) and waits until it says the node is Ready. */
  startAgent(node: number | string): Promise<void>;
  /** The node's `ip skiff` nftables table as `nft list table` prints it; "" when there is none. */
  nftTable(node: number | string): Promise<string>;
  /**
   * Runs a command in a running container of a pod (`ctr tasks exec` in
   * its node's containerd namespace: it works while the agent is down);
   * throws on a non-zero exit unless `check: false`.
   */
  podExec(pod: PodRef, cmd: readonly string[], options?: PodExecOptions): Promise<RunResult>;
  /** Starts a long-running command in a pod's container; the caller owns the process and must end it. */
  podSpawn(pod: PodRef, cmd: readonly string[], options?: { container?: string }): Promise<Deno.ChildProcess>;
  /** Makes a join token of this cluster (valid for an hour), as `skiff token create` does. */
  createJoinToken(): Promise<string>;
  /** Removes everything; safe to call more than once. */
  destroy(): Promise<void>;
}

/** A pod by name (namespace `default`) or by namespace and name. */
export type PodRef = string | { namespace: string; name: string };

/** Options for {@linkcode MultiNodeCluster.podExec}. */
export interface PodExecOptions extends RunOptions {
  /** The container (default: the pod's first). */
  container?: string;
}

/**
 * Makes a join token, `K10<ca-hash>::<id>.<secret>`, through an admin
 * client: a Secret of role `join` in kube-system, as `skiff token create`
 * makes it.
 *
 * @example
 * ```ts
 * const token = await createJoinToken(client, { caHash: plane.pki.caHash });
 * ```
 */
export async function createJoinToken(
  client: ApiClient,
  options: { caHash: string; ttlMs?: number },
): Promise<string> {
  const { token, secret } = await newToken({
    role: "join",
    expiresAt: Date.now() + (options.ttlMs ?? 3_600_000),
    description: "multi-node test",
  });
  await client.kind("v1", "Secret").create(secret as KubeObject);
  return formatJoinToken(options.caHash, token);
}

/** Options for {@linkcode spawnLabAgent}. */
export interface LabAgentOptions {
  /** The lab node whose network namespace the agent runs in; its address becomes the InternalIP. */
  node: LabNode;
  /** The node's name. */
  nodeName: string;
  /** The agent's data directory (credentials are stored there: later starts need no server or token). */
  dataDir: string;
  /** The containerd the agent uses. */
  containerdAddress: string;
  /** Its containerd namespace (one per agent sharing a containerd). */
  containerdNamespace: string;
  /** The API server's URL (omit on a restart: the stored one). */
  server?: string;
  /** A node, admin or join (`K10…`) token (omit on a restart: the stored one). */
  token?: string;
  /** The cluster CA file (not needed with a join token, which pins the CA by its hash). */
  caFile?: string;
  /** Called with everything the agent prints, as it prints it. */
  onOutput?: (text: string) => void;
}

/** A `skiff agent` process in a lab node. */
export interface LabAgent {
  /** The node's name. */
  readonly nodeName: string;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Everything it printed (stdout and stderr) so far. */
  output(): string;
  /**
   * Resolves when the agent printed that its node is Ready; rejects with
   * its last lines when it exits first or `timeoutMs` (default 120000) pass.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Kills its process group with SIGKILL and waits for it; safe to call more than once. */
  kill(): Promise<void>;
}

/**
 * Starts `skiff agent` as its own process group inside a lab node's network
 * namespace (`setsid nsenter --net=…`), keeping the host's mount namespace,
 * so the pod network namespaces it creates are visible to containerd. Its
 * output also goes to `<dataDir>/agent.log`. The caller must
 * {@linkcode LabAgent.kill} it.
 *
 * @example
 * ```ts
 * const agent = spawnLabAgent({ node: lab.nodes[1]!, nodeName: "pi-2", dataDir, server, token: joinToken,
 *   containerdAddress: containerd.address, containerdNamespace: "skiff-pi-2" });
 * try {
 *   await agent.ready();
 * } finally {
 *   await agent.kill();
 * }
 * ```
 */
export function spawnLabAgent(options: LabAgentOptions): LabAgent {
  const args = [
    `--net=/run/netns/${options.node.netns}`,
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "agent",
    ...(options.server !== undefined ? ["--server", options.server] : []),
    ...(options.token !== undefined ? ["--token", options.token] : []),
    ...(options.caFile !== undefined ? ["--ca-cert", options.caFile] : []),
    "--node-name",
    options.nodeName,
    "--data-dir",
    options.dataDir,
    "--containerd-address",
    options.containerdAddress,
    "--containerd-namespace",
    options.containerdNamespace,
    "--node-ip",
    options.node.address,
  ];
  // setsid: the agent leads a process group, so a kill takes its helpers (ctr events) along.
  const child = new Deno.Command("setsid", {
    args: ["nsenter", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let output = "";
  let exited = false;
  const readyLine = `Node "${options.nodeName}" is Ready`;
  const ready = Promise.withResolvers<void>();
  ready.promise.catch(() => {});
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const file = await Deno.open(join(options.dataDir, "agent.log"), { append: true, create: true });
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        output += text;
        options.onOutput?.(text);
        await file.write(new TextEncoder().encode(text));
        if (output.includes(readyLine)) ready.resolve();
      }
    } finally {
      file.close();
    }
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
  const status = child.status.then((s) => {
    exited = true;
    ready.reject(new Error(`the agent exited with code ${s.code}${s.signal ? ` (${s.signal})` : ""}`));
    return s;
  });
  let killed: Promise<void> | undefined;
  return {
    nodeName: options.nodeName,
    get exited() {
      return exited;
    },
    output: () => output,
    ready: async (timeoutMs = 120_000) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the agent did not say it is Ready within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([ready.promise, timeout]);
      } catch (error) {
        // Let the last lines arrive before quoting them.
        if (exited) await reading;
        throw new Error(
          `Node "${options.nodeName}" did not start: ${
            error instanceof Error ? error.message : error
          }; its agent printed:\n${output.split("\n").slice(-40).join("\n")}`,
        );
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () =>
      killed ??= (async () => {
        if (!exited) {
          try {
            Deno.kill(-child.pid, "SIGKILL");
          } catch {
            // Gone already.
          }
        }
        await status;
        await reading;
      })(),
  };
}

interface NodeState {
  index: number;
  labNode: LabNode;
  name: string;
  containerdNamespace: string;
  dataDir: string;
  token: string;
  podCidr: string;
  output: string;
  agent: LabAgent | undefined;
  starts: number;
}

/**
 * Starts a control plane, a containerd and `nodes` agents in a lab, and
 * waits until every node is Ready. Needs root and {@linkcode MULTI_NODE_TOOLS}.
 *
 * @example
 * ```ts
 * await using cluster = await startMultiNodeCluster({ nodes: 3 });
 * const pods = cluster.client.kind<Pod>("v1", "Pod");
 * await cluster.podExec("client", ["busybox", "wget", "-q", "-O", "-", "http://10.42.1.5:8080/"]);
 * ```
 * @throws {RangeError} for a node count that is not valid.
 * @throws {Error} when a part does not start, with the agent's output; what had started is removed.
 */
export async function startMultiNodeCluster(options: MultiNodeClusterOptions): Promise<MultiNodeCluster> {
  const count = options.nodes;
  if (!Number.isInteger(count) || count < 1 || count > 20) {
    throw new RangeError(`Invalid option "nodes": ${count} is not a whole number from 1 to 20`);
  }
  const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
  let destroyed: Promise<void> | undefined;
  const destroy = () =>
    destroyed ??= (async () => {
      const failures: string[] = [];
      for (const { what, run } of cleanups.splice(0).reverse()) {
        try {
          await run();
        } catch (error) {
          failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      if (failures.length > 0) throw new Error(`Cannot clean up the multi-node cluster: ${failures.join("; ")}`);
    })();

  try {
    const tmp: TempDir = await createTempDir({ prefix: "skiff-mn-" });
    cleanups.push({ what: "the temporary directory", run: () => tmp.remove() });
    const image = await buildBusyboxImage();
    const containerd = await startContainerd({ dir: tmp.join("ctd") });
    // Removes every task, container and image in every namespace, then containerd and its directory.
    cleanups.push({ what: "containerd", run: () => containerd.stop() });
    const lab = await createLab({ nodes: count });
    cleanups.push({ what: "the lab", run: () => lab.destroy() });
    const planeLog: string[] = [];
    const plane = await startControlPlane({
      dataDir: tmp.join("plane"),
      port: 0,
      bind: lab.gateway,
      tlsSans: [lab.gateway],
      controllers: true,
      log: (line) => planeLog.push(line),
    });
    cleanups.push({ what: "the control plane", run: () => plane.stop() });
    const client = new ApiClient({
      server: plane.url,
      transport: plane.handler.as(SYSTEM_USER),
      userAgent: "multi-node",
    });
    const caFile = join(tmp.join("plane"), "pki", "ca.crt");
    const joinToken = options.joinWithToken ? await createJoinToken(client, { caHash: plane.pki.caHash }) : undefined;

    const prefix = uniqueName("mn").toLowerCase();
    const states: NodeState[] = [];
    for (const labNode of lab.nodes) {
      const name = `${prefix}-n${labNode.index}`;
      const containerdNamespace = `skiff-${name}`;
      let token = joinToken;
      if (token === undefined) {
        const made = await newToken({ role: "node", nodeName: name, description: "multi-node test" });
        await client.kind("v1", "Secret").create(made.secret);
        token = made.token;
      }
      const dataDir = tmp.join(`node-${labNode.index}`);
      await Deno.mkdir(dataDir, { recursive: true });
      await containerd.ctr(["images", "import", image.path], { namespace: containerdNamespace });
      states.push({
        index: labNode.index,
        labNode,
        name,
        containerdNamespace,
        dataDir,
        token,
        podCidr: "",
        output: "",
        agent: undefined,
        starts: 0,
      });
    }
    // Before the lab goes: agents first (they would recreate what is removed), then what they made.
    cleanups.push({
      what: "the pod network namespaces",
      run: () => removePodNamespaces(states.map((state) => state.name)),
    });
    cleanups.push({ what: "the nft tables and routes in the nodes", run: () => removeNodeNetworking(lab, states) });
    cleanups.push({ what: "the agents", run: () => Promise.all(states.map((state) => state.agent?.kill())) });

    const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
    const start = async (state: NodeState) => {
      // The first start brings server, token and CA; later ones use what the agent stored.
      const first = state.starts++ === 0;
      const agent = spawnLabAgent({
        node: state.labNode,
        nodeName: state.name,
        dataDir: state.dataDir,
        containerdAddress: containerd.address,
        containerdNamespace: state.containerdNamespace,
        ...(first ? { server: plane.url, token: state.token } : {}),
        ...(first && joinToken === undefined ? { caFile } : {}),
        onOutput: (text) => state.output += text,
      });
      state.agent = agent;
      await agent.ready(readyTimeoutMs);
      const node = await client.kind<Node>("v1", "Node").get(state.name);
      state.podCidr = node.spec?.podCIDR ?? "";
    };
    await Promise.all(states.map(start));

    const stateOf = (node: number | string): NodeState => {
      const found = typeof node === "number" ? states[node] : states.find((s) => s.name === node);
      if (!found) throw new RangeError(`The cluster has no node ${JSON.stringify(node)}`);
      return found;
    };
    const view = (state: NodeState): ClusterNode => ({
      index: state.index,
      name: state.name,
      address: state.labNode.address,
      netns: state.labNode.netns,
      containerdNamespace: state.containerdNamespace,
      dataDir: state.dataDir,
      get podCidr() {
        return state.podCidr;
      },
      get running() {
        return state.agent !== undefined && !state.agent.exited;
      },
      output: () => state.output,
    });
    const nodes = states.map(view);

    /** The id of the newest running container of a pod, with its node's state. */
    const runningContainer = async (ref: PodRef, container: string | undefined) => {
      const { namespace, name } = typeof ref === "string" ? { namespace: "default", name: ref } : ref;
      const pod = await client.kind<Pod>("v1", "Pod").get(name, { namespace });
      const state = states.find((s) => s.name === pod.spec?.nodeName);
      if (!state) throw new Error(`Pod "${namespace}/${name}" is not bound to a node of this cluster`);
      const containerName = container ?? pod.spec?.containers[0]?.name ?? "";
      const prefix = `${pod.metadata.uid}_${containerName}_`;
      const tasks = await containerd.ctr(["tasks", "ls"], { namespace: state.containerdNamespace });
      const ids = tasks.stdout.split("\n").slice(1).map((line) => line.trim().split(/\s+/))
        .filter(([id, , status]) => id?.startsWith(prefix) && status === "RUNNING")
        .map(([id]) => id!)
        .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)));
      if (ids.length === 0) {
        throw new Error(`Pod "${namespace}/${name}" has no running container "${containerName}" on "${state.name}"`);
      }
      return { state, id: ids[0]! };
    };
    const execArgs = (state: NodeState, id: string, cmd: readonly string[]) => [
      "ctr",
      "-a",
      containerd.address,
      "-n",
      state.containerdNamespace,
      "tasks",
      "exec",
      "--exec-id",
      `t${crypto.randomUUID().slice(0, 8)}`,
      id,
      ...cmd,
    ];

    const cluster: MultiNodeCluster = {
      client,
      plane,
      lab,
      containerd,
      nodes,
      node: (node) => nodes[stateOf(node).index]!,
      exec: (node, cmd, runOptions) => lab.exec(stateOf(node).index, cmd, runOptions),
      partition: (node) => lab.partition(stateOf(node).index),
      heal: (node) => lab.heal(stateOf(node).index),
      stopAgent: async (node) => await stateOf(node).agent?.kill(),
      startAgent: async (node) => {
        const state = stateOf(node);
        if (state.agent && !state.agent.exited) {
          throw new Error(`The agent of node "${state.name}" is running already`);
        }
        await start(state);
      },
      nftTable: async (node) => {
        const listed = await lab.exec(stateOf(node).index, ["nft", "list", "table", "ip", "skiff"], { check: false });
        return listed.success ? listed.stdout : "";
      },
      podExec: async (pod, cmd, execOptions = {}) => {
        const { container, ...runOptions } = execOptions;
        const { state, id } = await runningContainer(pod, container);
        return await run(execArgs(state, id, cmd), runOptions);
      },
      podSpawn: async (pod, cmd, spawnOptions = {}) => {
        const { state, id } = await runningContainer(pod, spawnOptions.container);
        const [program, ...args] = execArgs(state, id, cmd);
        return new Deno.Command(program!, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
      },
      createJoinToken: () => createJoinToken(client, { caHash: plane.pki.caHash }),
      destroy,
      [Symbol.asyncDispose]: destroy,
    };
    await eventually("every node Ready", async () => {
      const list = await client.kind<Node>("v1", "Node").list();
      return states.every((state) =>
        list.items.some((node) =>
          node.metadata.name === state.name &&
          node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        )
      );
    }, { timeoutMs: readyTimeoutMs });
    return cluster;
  } catch (error) {
    try {
      await destroy();
    } catch (cleanupError) {
      throw new AggregateError([error, cleanupError], `Starting the multi-node cluster failed: ${error}`);
    }
    throw error;
  }
}

/**
 * The endpoint addresses (`ip:port`) a node's `ip skiff` table sends
 * Service traffic to: the targets of its `dnat to` rules, sorted, one per
 * rule (a duplicate endpoint shows twice).
 */
export function serviceEndpointIps(table: string): string[] {
  return [...table.matchAll(/dnat to (\d+\.\d+\.\d+\.\d+:\d+)/g)].map((m) => m[1]!).sort();
}

/**
 * Deletes the pod network namespaces that the agents of these nodes created
 * (`skiff-<node>-…`), for cleaning up after agents that were killed.
 */
export async function removePodNamespaces(nodeNames: readonly string[]): Promise<void> {
  const out = (await run(["ip", "-j", "netns", "list"])).stdout.trim();
  const names = out === "" ? [] : (JSON.parse(out) as { name: string }[]).map((ns) => ns.name);
  for (const name of names) {
    if (nodeNames.some((node) => name.startsWith(`skiff-${node}-`))) {
      await run(["ip", "netns", "del", name], { check: false });
    }
  }
}

/** Deletes the service proxy's table and Skiff's routes in each node that still exists. */
async function removeNodeNetworking(lab: Lab, states: readonly NodeState[]): Promise<void> {
  for (const state of states) {
    try {
      await Deno.stat(`/run/netns/${state.labNode.netns}`);
    } catch {
      continue;
    }
    await lab.exec(state.index, ["nft", "delete", "table", "ip", "skiff"], { check: false });
    await lab.exec(state.index, ["ip", "route", "flush", "proto", "152"], { check: false });
  }
}
