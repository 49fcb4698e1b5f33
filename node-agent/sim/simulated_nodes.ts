/**
 * Simulated nodes (the KWOK idea): N hollow nodes in one process against a
 * real control plane. Each registers a Node (capacity, architecture,
 * hardware labels, temperature, devices, conditions), renews its Lease in
 * `kube-node-lease` every heartbeat, and "runs" the pods bound to it
 * through its own FakeRuntime, reporting them Running and Ready as an
 * agent would; pods being deleted are stopped and then removed. Pod
 * addresses come from the node's `spec.podCIDR` once the control plane
 * assigns one, and from 100.64.0.0/10 until then.
 *
 * Costs stay small at scale: one pod informer for all nodes (dispatching by
 * `spec.nodeName`), one ticker for all heartbeats (spread over the
 * interval), full node status only every `statusReportSeconds` or when
 * something changed, and a bound on requests in flight.
 *
 * Pods can ask their simulated containers to misbehave with annotations:
 * `sim.skiff.dev/exit-after-seconds` (and `sim.skiff.dev/exit-code`,
 * default 0) or `sim.skiff.dev/oom-after-seconds`. Exited containers are
 * restarted as `restartPolicy` says, with the kubelet's back-off.
 *
 * @example
 * ```ts
 * const sim = await runSimulatedNodes({ client, nodes: 50, capacity: { cpu: "4", memory: "8Gi" } });
 * await sim.setTemperature("sim-node-3", 85);
 * sim.stopHeartbeats(["sim-node-4"]);
 * await sim.stop();
 * ```
 *
 * @module
 */

import {
  AlreadyExistsError,
  type Clock,
  type Condition,
  ConflictError,
  LABEL_ARCH,
  LABEL_HOSTNAME,
  LABEL_OS,
  type Lease,
  type Node,
  NODE_LEASE_NAMESPACE,
  NotFoundError,
  type Pod,
  systemClock,
} from "@skiff/api";
import { type ApiClient, Informer, type ResourceClient } from "@skiff/client";
import {
  type ContainerBehavior,
  type ContainerInfo,
  containerLabels,
  FakeRuntime,
  ImagePullError,
  LABEL_CONTAINER_NAME,
  LABEL_POD_UID,
} from "../runtime/mod.ts";
import {
  ANNOTATION_TEMPERATURE_CELSIUS,
  ANNOTATION_THROTTLED,
  CONDITION_THERMAL_PRESSURE,
  DEVICE_RESOURCE_PREFIX,
} from "@skiff/api";
import { Limiter } from "./_limiter.ts";
import { type ContainerRun, rfc3339, simulatedPodStatus } from "./pod_status.ts";

/** Pod annotation: simulated containers exit this many seconds after starting. */
export const ANNOTATION_SIM_EXIT_AFTER = "sim.skiff.dev/exit-after-seconds";
/** Pod annotation: the code they exit with (default 0). */
export const ANNOTATION_SIM_EXIT_CODE = "sim.skiff.dev/exit-code";
/** Pod annotation: simulated containers are OOM-killed this many seconds after starting. */
export const ANNOTATION_SIM_OOM_AFTER = "sim.skiff.dev/oom-after-seconds";
/** Node label every simulated node carries. */
export const LABEL_SIMULATED = "hardware.skiff.dev/simulated";
/** At or above this temperature (°C) a simulated node reports ThermalPressure, as a Pi throttles at 80 °C. */
export const THERMAL_PRESSURE_CELSIUS = 80;
/** How long after registration nodes look for the pod range the control plane assigned them. */
const POD_NET_CHECK_MS = 2000;
/** The version simulated nodes report as their agent's. */
export const SIM_VERSION = "v1.32.0-skiff-sim";

/** Resources of each simulated node. */
export interface SimulatedCapacity {
  /** CPUs (default `4`). */
  cpu?: string;
  /** Memory (default `8Gi`). */
  memory?: string;
  /** Pods (default 110). */
  pods?: number;
  /** Ephemeral storage (default `64Gi`). */
  ephemeralStorage?: string;
}

/** Options of {@linkcode runSimulatedNodes}. */
export interface SimulatedNodesOptions {
  /** The API client the nodes use. */
  client: ApiClient;
  /** How many nodes. */
  nodes: number;
  /** Node names are this prefix and an index from 0 (default `sim-node-`). */
  namePrefix?: string;
  /** Resources of each node. */
  capacity?: SimulatedCapacity;
  /** `kubernetes.io/arch` (default `amd64`). */
  arch?: string;
  /** Extra node labels. */
  labels?: Record<string, string>;
  /** Reported temperature in °C (default 45). */
  temperatureCelsius?: number;
  /** Host devices each node reports, by kind: `{ serial: 1 }` is `devices.skiff.dev/serial: 1`. */
  devices?: Record<string, number>;
  /** Seconds between Lease renewals (default 10). */
  heartbeatSeconds?: number;
  /** Seconds between full node status reports when nothing changed (default 60). */
  statusReportSeconds?: number;
  /** API requests in flight at most (default 32). */
  concurrency?: number;
  /** How the fake runtime pulls: delay per pull in ms, or a reason pulls of a reference fail. */
  runtime?: { pullDelayMs?: number; pullError?: (ref: string) => string | undefined };
  /** Time source. */
  clock?: Clock;
  /** Where problems are reported (default: stderr). */
  log?: (line: string) => void;
}

/** What the simulated nodes have done. */
export interface SimulatedNodeStats {
  /** Nodes simulated. */
  nodes: number;
  /** Pods the nodes hold. */
  pods: number;
  /** Pods reported Running and Ready. */
  running: number;
  /** Lease renewals written. */
  leaseRenewals: number;
  /** Node status reports written. */
  statusReports: number;
  /** Pod status writes. */
  podStatusWrites: number;
  /** Requests that failed. */
  errors: number;
}

interface SimPod {
  uid: string;
  pod: Pod;
  init: ContainerRun[];
  containers: ContainerRun[];
  podIP: string;
  ipSlot: number;
  startTime: number;
  chain: Promise<void>;
  terminating: boolean;
  gone: boolean;
  running: boolean;
  exits: Map<string, (info: ContainerInfo) => void>;
  timers: number[];
}

interface SimNode {
  name: string;
  index: number;
  hostIP: string;
  podNet: [number, number, number];
  podNetAssigned: boolean;
  temperature: number;
  throttled: boolean;
  devices: Record<string, number>;
  heartbeating: boolean;
  nextLeaseAt: number;
  nextStatusAt: number;
  statusDirty: boolean;
  leaseBusy: boolean;
  statusBusy: boolean;
  lease: Lease | undefined;
  runtime: FakeRuntime;
  pods: Map<string, SimPod>;
  freeSlots: number[];
  nextSlot: number;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/**
 * The pod /24 a node with this index uses until the control plane assigns
 * it one (`spec.podCIDR`): 100.64.0.0/10, apart from the cluster's pod CIDR,
 * so it never collides with an assigned range.
 */
export function simulatedPodNetwork(index: number): [number, number, number] {
  return [100, 64 + ((index >> 8) & 63), index & 255];
}

/** The address of the node with this index (172.16.0.0/12). */
export function simulatedHostIP(index: number): string {
  const n = index + 1;
  return `172.${16 + ((n >> 16) & 15)}.${(n >> 8) & 255}.${n & 255}`;
}

function parseCidr(cidr: string | undefined): [number, number, number] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.0\/24$/.exec(cidr ?? "");
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Registers the nodes, starts their heartbeats and pod handling; resolves once all are registered. */
export async function runSimulatedNodes(options: SimulatedNodesOptions): Promise<SimulatedNodes> {
  const sim = new SimulatedNodes(options);
  try {
    await sim.start();
  } catch (err) {
    await sim.stop();
    throw err;
  }
  return sim;
}

/** Running simulated nodes. */
export class SimulatedNodes {
  readonly #options: SimulatedNodesOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #nodes: SimNode[] = [];
  readonly #byName = new Map<string, SimNode>();
  readonly #limiter: Limiter;
  readonly #nodeClient: ResourceClient<Node>;
  readonly #leaseClient: ResourceClient<Lease>;
  readonly #podClient: ResourceClient<Pod>;
  readonly #heartbeatMs: number;
  readonly #statusMs: number;
  #informer: Informer<Pod> | undefined;
  #ticker: number | undefined;
  #podNetTimer: number | undefined;
  #stopped = false;
  #lastLogged = new Map<string, number>();
  #inflight = new Set<Promise<unknown>>();
  #stats: SimulatedNodeStats;

  /** Prepares the nodes; {@linkcode runSimulatedNodes} creates and starts them. */
  constructor(options: SimulatedNodesOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 0) {
      throw new RangeError(`nodes must be a whole number of nodes, got ${options.nodes}`);
    }
    const heartbeat = options.heartbeatSeconds ?? 10;
    const report = options.statusReportSeconds ?? 60;
    if (!(heartbeat > 0)) throw new RangeError(`heartbeatSeconds must be positive, got ${heartbeat}`);
    if (!(report > 0)) throw new RangeError(`statusReportSeconds must be positive, got ${report}`);
    for (const [kind, count] of Object.entries(options.devices ?? {})) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`devices.${kind} must be a whole number of devices, got ${count}`);
      }
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#limiter = new Limiter(options.concurrency ?? 32);
    this.#nodeClient = options.client.kind<Node>("v1", "Node");
    this.#leaseClient = options.client.kind<Lease>("coordination.k8s.io/v1", "Lease");
    this.#podClient = options.client.kind<Pod>("v1", "Pod");
    this.#heartbeatMs = heartbeat * 1000;
    this.#statusMs = report * 1000;
    this.#stats = {
      nodes: options.nodes,
      pods: 0,
      running: 0,
      leaseRenewals: 0,
      statusReports: 0,
      podStatusWrites: 0,
      errors: 0,
    };
    const prefix = options.namePrefix ?? "sim-node-";
    for (let index = 0; index < options.nodes; index++) {
      const name = `${prefix}${index}`;
      const runtime = new FakeRuntime({
        clock: this.#clock,
        ...(options.runtime?.pullDelayMs !== undefined ? { pullDelayMs: options.runtime.pullDelayMs } : {}),
        ...(options.runtime?.pullError ? { pullError: options.runtime.pullError } : {}),
        architecture: options.arch ?? "amd64",
        behavior: (spec) => this.#behavior(this.#byName.get(name)!, spec.labels),
        onStateChange: (info) => this.#onContainerChange(this.#byName.get(name)!, info),
      });
      const node: SimNode = {
        name,
        index,
        hostIP: simulatedHostIP(index),
        podNet: simulatedPodNetwork(index),
        podNetAssigned: false,
        temperature: options.temperatureCelsius ?? 45,
        throttled: false,
        devices: { ...options.devices },
        heartbeating: true,
        nextLeaseAt: 0,
        nextStatusAt: 0,
        statusDirty: false,
        leaseBusy: false,
        statusBusy: false,
        lease: undefined,
        runtime,
        pods: new Map(),
        freeSlots: [],
        nextSlot: 2,
      };
      this.#nodes.push(node);
      this.#byName.set(name, node);
    }
  }

  /** The node names. */
  get names(): string[] {
    return this.#nodes.map((n) => n.name);
  }

  /** What the nodes have done so far. */
  get stats(): SimulatedNodeStats {
    let pods = 0;
    for (const node of this.#nodes) pods += node.pods.size;
    return { ...this.#stats, pods };
  }

  /**
   * How many heartbeats, status reports and pod-range reads are in flight:
   * a test that moves a manual clock waits for none before checking what
   * they did or moving the clock again.
   */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /** The fake runtime of a node (to make its containers exit, for example). */
  runtime(name: string): FakeRuntime {
    return this.#node(name).runtime;
  }

  /**
   * Registers every node and its Lease, then starts the pod informer and
   * the heartbeats, spread evenly over the interval.
   */
  async start(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => this.#limiter.run(() => this.#register(node))));
    this.#informer = new Informer(this.#podClient, {
      clock: this.#clock,
      onError: (err) => this.#problem(`Cannot watch pods: ${message(err)}; retrying`),
    });
    this.#informer.on({
      add: (pod) => this.#onPod(pod),
      update: (_old, pod) => this.#onPod(pod),
      delete: (pod) => this.#onPodGone(pod),
    });
    await this.#informer.start();
    const now = this.#clock.now();
    const count = this.#nodes.length;
    for (const node of this.#nodes) {
      node.nextLeaseAt = now + Math.floor(this.#heartbeatMs * (node.index + 1) / count);
      node.nextStatusAt = now + Math.floor(this.#statusMs * (node.index + 1) / count);
    }
    this.#tick();
    this.#podNetTimer = this.#clock.setTimeout(() => this.#checkPodNets(), POD_NET_CHECK_MS);
  }

  /** Stops heartbeats and pod handling and waits for requests in flight; the Node objects stay (and go NotReady). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#ticker !== undefined) this.#clock.clearTimeout(this.#ticker);
    if (this.#podNetTimer !== undefined) this.#clock.clearTimeout(this.#podNetTimer);
    this.#informer?.stop();
    for (const node of this.#nodes) {
      for (const sp of node.pods.values()) for (const t of sp.timers) this.#clock.clearTimeout(t);
    }
    await Promise.all(this.#nodes.flatMap((n) => [...n.pods.values()].map((p) => p.chain)));
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  /** Stops the heartbeats (Lease and status) and the pod handling of these nodes, as if they lost power. */
  stopHeartbeats(names: readonly string[]): void {
    for (const name of names) this.#node(name).heartbeating = false;
  }

  /** Resumes the heartbeats of these nodes and catches up with their pods. */
  resumeHeartbeats(names: readonly string[]): void {
    const now = this.#clock.now();
    for (const name of names) {
      const node = this.#node(name);
      if (node.heartbeating) continue;
      node.heartbeating = true;
      node.nextLeaseAt = now;
      node.statusDirty = true;
      for (const pod of this.#informer?.list() ?? []) {
        if (pod.spec?.nodeName === name) this.#onPod(pod);
      }
      for (const sp of [...node.pods.values()]) {
        if (!this.#informer?.get(`${sp.pod.metadata.namespace}/${sp.pod.metadata.name}`)) this.#forget(node, sp);
      }
    }
    this.#tick();
  }

  /** Changes the temperature (°C) a node reports, and whether it throttles; resolves once written. */
  async setTemperature(name: string, celsius: number, options: { throttled?: boolean } = {}): Promise<void> {
    if (!Number.isFinite(celsius)) throw new RangeError(`Temperature must be a number of °C, got ${celsius}`);
    const node = this.#node(name);
    node.temperature = celsius;
    if (options.throttled !== undefined) node.throttled = options.throttled;
    await this.#limiter.run(() =>
      this.#nodeClient.patch(name, { metadata: { annotations: this.#annotations(node) } }).then(() => {})
    );
    await this.#reportStatus(node);
  }

  /** Changes the devices a node reports (`{ serial: 0 }` removes them); resolves once written. */
  async setDevices(name: string, devices: Record<string, number>): Promise<void> {
    const node = this.#node(name);
    for (const [kind, count] of Object.entries(devices)) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`devices.${kind} must be a whole number of devices, got ${count}`);
      }
    }
    node.devices = { ...node.devices, ...devices };
    await this.#reportStatus(node);
  }

  /** Stops the nodes. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #node(name: string): SimNode {
    const node = this.#byName.get(name);
    if (!node) throw new TypeError(`No simulated node is named "${name}"`);
    return node;
  }

  #problem(line: string): void {
    if (this.#stopped) return;
    this.#stats.errors++;
    const now = this.#clock.now();
    const last = this.#lastLogged.get(line);
    if (last !== undefined && now - last < 60_000) return;
    if (this.#lastLogged.size > 1000) this.#lastLogged.clear();
    this.#lastLogged.set(line, now);
    this.#log(line);
  }

  // Node registration, heartbeats and status.

  /** The node's resources; in a patch, devices it no longer has are null so the patch removes them. */
  #resources(node: SimNode, patch = false): Record<string, string | null> {
    const c = this.#options.capacity ?? {};
    const list: Record<string, string | null> = {
      cpu: c.cpu ?? "4",
      memory: c.memory ?? "8Gi",
      pods: String(c.pods ?? 110),
      "ephemeral-storage": c.ephemeralStorage ?? "64Gi",
    };
    for (const [kind, count] of Object.entries(node.devices)) {
      if (count > 0) list[`${DEVICE_RESOURCE_PREFIX}${kind}`] = String(count);
      else if (patch) list[`${DEVICE_RESOURCE_PREFIX}${kind}`] = null;
    }
    return list;
  }

  #annotations(node: SimNode): Record<string, string> {
    return {
      [ANNOTATION_TEMPERATURE_CELSIUS]: String(node.temperature),
      [ANNOTATION_THROTTLED]: String(node.throttled),
    };
  }

  #conditions(node: SimNode, now: number): Condition[] {
    const at = rfc3339(now);
    const hot = node.throttled || node.temperature >= THERMAL_PRESSURE_CELSIUS;
    const condition = (type: string, ok: boolean, reason: string, message: string): Condition => ({
      type,
      status: ok ? "True" : "False",
      lastHeartbeatTime: at,
      lastTransitionTime: at,
      reason,
      message,
    });
    return [
      condition("Ready", true, "KubeletReady", "simulated node is posting ready status"),
      condition("MemoryPressure", false, "KubeletHasSufficientMemory", "simulated node has sufficient memory"),
      condition("DiskPressure", false, "KubeletHasNoDiskPressure", "simulated node has no disk pressure"),
      condition("PIDPressure", false, "KubeletHasSufficientPID", "simulated node has sufficient PID available"),
      condition(
        CONDITION_THERMAL_PRESSURE,
        hot,
        hot ? "NodeTooHot" : "NodeCoolEnough",
        hot ? `simulated node is at ${node.temperature}°C` : "simulated node is cool enough",
      ),
    ];
  }

  #nodeObject(node: SimNode): Node {
    const arch = this.#options.arch ?? "amd64";
    const resources = this.#resources(node) as Record<string, string>;
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: node.name,
        labels: {
          ...this.#options.labels,
          [LABEL_ARCH]: arch,
          [LABEL_OS]: "linux",
          [LABEL_HOSTNAME]: node.name,
          [LABEL_SIMULATED]: "true",
          "hardware.skiff.dev/board": "simulated",
          "hardware.skiff.dev/cpu-cores": resources.cpu!,
        },
        annotations: this.#annotations(node),
      },
      spec: {},
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: this.#conditions(node, this.#clock.now()),
        addresses: [{ type: "InternalIP", address: node.hostIP }, { type: "Hostname", address: node.name }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: `sim${String(node.index).padStart(29, "0")}`,
          systemUUID: `00000000-0000-4000-8000-${String(node.index).padStart(12, "0")}`,
          bootID: crypto.randomUUID(),
          kernelVersion: "6.1.0-skiff-sim",
          osImage: "Skiff simulated node",
          containerRuntimeVersion: "fake://0.1.0",
          kubeletVersion: SIM_VERSION,
          kubeProxyVersion: SIM_VERSION,
          operatingSystem: "linux",
          architecture: arch,
        },
      },
    };
  }

  async #register(node: SimNode): Promise<void> {
    const body = this.#nodeObject(node);
    let registered: Node;
    try {
      registered = await this.#nodeClient.create(body);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) {
        throw new Error(`Cannot register simulated node "${node.name}": ${message(err)}`, { cause: err });
      }
      await this.#nodeClient.patch(node.name, { metadata: body.metadata });
      registered = await this.#nodeClient.patch(node.name, { status: body.status }, { subresource: "status" });
    }
    this.#learnPodNet(node, registered);
    const now = this.#clock.now();
    const lease: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: node.name,
        namespace: NODE_LEASE_NAMESPACE,
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: registered.metadata.uid! }],
      },
      spec: { holderIdentity: node.name, leaseDurationSeconds: 40, renewTime: microTime(now) },
    };
    try {
      node.lease = await this.#leaseClient.create(lease);
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) {
        throw new Error(`Cannot create the Lease of simulated node "${node.name}": ${message(err)}`, { cause: err });
      }
      const existing = await this.#leaseClient.get(node.name, { namespace: NODE_LEASE_NAMESPACE });
      node.lease = await this.#leaseClient.update({ ...existing, spec: { ...existing.spec, ...lease.spec } });
    }
    this.#stats.leaseRenewals++;
  }

  #tick(): void {
    if (this.#stopped) return;
    if (this.#ticker !== undefined) this.#clock.clearTimeout(this.#ticker);
    const now = this.#clock.now();
    for (const node of this.#nodes) {
      if (!node.heartbeating) continue;
      if (now >= node.nextLeaseAt && !node.leaseBusy) {
        node.nextLeaseAt = now + this.#heartbeatMs;
        node.leaseBusy = true;
        this.#track(
          this.#limiter.run(() => this.#stopped ? Promise.resolve() : this.#renewLease(node)).catch((err) =>
            this.#problem(`Cannot renew the Lease of simulated node "${node.name}": ${message(err)}; retrying`)
          ).finally(() => node.leaseBusy = false),
        );
      }
      if ((now >= node.nextStatusAt || node.statusDirty) && !node.statusBusy) {
        this.#track(
          this.#reportStatus(node).catch((err) =>
            this.#problem(`Cannot report the status of simulated node "${node.name}": ${message(err)}; retrying`)
          ),
        );
      }
    }
    this.#ticker = this.#clock.setTimeout(() => {
      this.#ticker = undefined;
      this.#tick();
    }, Math.min(1000, this.#heartbeatMs));
  }

  #track(task: Promise<unknown>): void {
    this.#inflight.add(task);
    task.finally(() => this.#inflight.delete(task));
  }

  #learnPodNet(node: SimNode, registered: Node): void {
    const assigned = parseCidr(registered.spec?.podCIDR);
    if (!assigned) return;
    node.podNet = assigned;
    node.podNetAssigned = true;
  }

  /** Reads the pod ranges the control plane assigned after registration (status reports keep learning them). */
  #checkPodNets(): void {
    for (const node of this.#nodes) {
      if (node.podNetAssigned || this.#stopped) continue;
      this.#track(
        this.#limiter.run(async () => {
          if (!this.#stopped) this.#learnPodNet(node, await this.#nodeClient.get(node.name));
        }).catch((err) => this.#problem(`Cannot read simulated node "${node.name}": ${message(err)}`)),
      );
    }
  }

  async #renewLease(node: SimNode): Promise<void> {
    const renewTime = microTime(this.#clock.now());
    const lease = node.lease;
    try {
      if (!lease) throw new NotFoundError("no lease held");
      node.lease = await this.#leaseClient.update({ ...lease, spec: { ...lease.spec, renewTime } });
    } catch (err) {
      if (err instanceof ConflictError) {
        const fresh = await this.#leaseClient.get(node.name, { namespace: NODE_LEASE_NAMESPACE });
        node.lease = await this.#leaseClient.update({ ...fresh, spec: { ...fresh.spec, renewTime } });
      } else if (err instanceof NotFoundError) {
        await this.#register(node);
      } else {
        throw err;
      }
    }
    this.#stats.leaseRenewals++;
  }

  async #reportStatus(node: SimNode): Promise<void> {
    node.statusBusy = true;
    node.statusDirty = false;
    node.nextStatusAt = this.#clock.now() + this.#statusMs;
    try {
      const resources = this.#resources(node, true);
      const updated = await this.#limiter.run(async () =>
        this.#stopped ? undefined : await this.#nodeClient.patch(node.name, {
          status: {
            capacity: resources,
            allocatable: resources,
            conditions: this.#conditions(node, this.#clock.now()),
          },
        }, { subresource: "status" })
      );
      if (updated) this.#learnPodNet(node, updated);
      this.#stats.statusReports++;
    } catch (err) {
      if (err instanceof NotFoundError) {
        await this.#limiter.run(() => this.#register(node));
        return;
      }
      node.statusDirty = true;
      throw err;
    } finally {
      node.statusBusy = false;
    }
  }

  // Pods.

  #onPod(pod: Pod): void {
    if (this.#stopped) return;
    const node = this.#byName.get(pod.spec?.nodeName ?? "");
    if (!node || !node.heartbeating) return;
    const uid = pod.metadata.uid!;
    let sp = node.pods.get(uid);
    if (!sp) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") return;
      sp = this.#newPod(node, pod);
      node.pods.set(uid, sp);
      if (pod.metadata.deletionTimestamp) {
        sp.terminating = true;
        this.#enqueue(node, sp, () => this.#terminate(node, sp!));
      } else {
        this.#enqueue(node, sp, () => this.#startPod(node, sp!));
      }
      return;
    }
    sp.pod = pod;
    if (pod.metadata.deletionTimestamp && !sp.terminating) {
      sp.terminating = true;
      this.#enqueue(node, sp, () => this.#terminate(node, sp!));
    }
  }

  #onPodGone(pod: Pod): void {
    const node = this.#byName.get(pod.spec?.nodeName ?? "");
    const sp = node?.pods.get(pod.metadata.uid!);
    if (node && sp) this.#forget(node, sp);
  }

  #newPod(node: SimNode, pod: Pod): SimPod {
    const slot = node.freeSlots.pop() ?? node.nextSlot++;
    const adopted = pod.status?.phase === "Running" && pod.status.podIP;
    const run = (ctr: { name: string; image?: string }): ContainerRun => ({
      name: ctr.name,
      image: ctr.image ?? "",
      restartCount: 0,
    });
    return {
      uid: pod.metadata.uid!,
      pod,
      init: (pod.spec?.initContainers ?? []).map(run),
      containers: (pod.spec?.containers ?? []).map(run),
      podIP: adopted ? pod.status!.podIP! : "",
      ipSlot: slot,
      startTime: pod.status?.startTime ? Date.parse(pod.status.startTime) : this.#clock.now(),
      chain: Promise.resolve(),
      terminating: false,
      gone: false,
      running: false,
      exits: new Map(),
      timers: [],
    };
  }

  #enqueue(node: SimNode, sp: SimPod, step: () => Promise<void>): void {
    sp.chain = sp.chain.then(() => sp.gone || this.#stopped ? undefined : step()).catch((err) =>
      this.#problem(
        `Simulated node "${node.name}" cannot handle pod ${sp.pod.metadata.namespace}/${sp.pod.metadata.name}: ${
          message(err)
        }`,
      )
    );
  }

  #behavior(node: SimNode, labels: Record<string, string>): ContainerBehavior | undefined {
    const sp = node.pods.get(labels[LABEL_POD_UID] ?? "");
    if (!sp) return undefined;
    const name = labels[LABEL_CONTAINER_NAME];
    if (sp.init.some((r) => r.name === name)) return { exitAfterMs: 0, exitCode: 0 };
    const annotations = sp.pod.metadata.annotations ?? {};
    const oom = seconds(annotations[ANNOTATION_SIM_OOM_AFTER]);
    if (oom !== undefined) return { oomAfterMs: oom * 1000 };
    const exit = seconds(annotations[ANNOTATION_SIM_EXIT_AFTER]);
    if (exit === undefined) return undefined;
    return { exitAfterMs: exit * 1000, exitCode: Math.trunc(seconds(annotations[ANNOTATION_SIM_EXIT_CODE]) ?? 0) };
  }

  async #startContainer(node: SimNode, sp: SimPod, run: ContainerRun): Promise<boolean> {
    const spec = [...(sp.pod.spec?.initContainers ?? []), ...(sp.pod.spec?.containers ?? [])]
      .find((c) => c.name === run.name);
    try {
      await node.runtime.ensureImage(run.image, {
        ...(spec?.imagePullPolicy ? { pullPolicy: spec.imagePullPolicy } : {}),
      });
    } catch (err) {
      if (!(err instanceof ImagePullError)) throw err;
      run.waiting = { reason: err.reason, message: err.message };
      return false;
    }
    const info = await node.runtime.createContainer({
      id: `${sp.uid}-${run.name}-${run.restartCount}`,
      image: run.image,
      ...(spec?.command ? { command: spec.command } : {}),
      ...(spec?.args ? { args: spec.args } : {}),
      labels: containerLabels({
        podUid: sp.uid,
        podNamespace: sp.pod.metadata.namespace!,
        podName: sp.pod.metadata.name!,
        containerName: run.name,
        restartCount: run.restartCount,
      }),
    });
    run.current = info;
    run.waiting = undefined;
    await node.runtime.startContainer(info.id);
    run.current = await node.runtime.inspectContainer(info.id);
    return true;
  }

  async #startPod(node: SimNode, sp: SimPod): Promise<void> {
    if (!sp.podIP) {
      const [a, b, c] = node.podNet;
      sp.podIP = `${a}.${b}.${c}.${2 + ((sp.ipSlot - 2) % 253)}`;
    }
    for (const run of sp.init) {
      const exited = new Promise<ContainerInfo>((resolve) => sp.exits.set(run.name, resolve));
      if (!await this.#startContainer(node, sp, run)) return await this.#writeStatus(node, sp);
      run.current = await exited;
      if (run.current.exitCode !== 0) return await this.#writeStatus(node, sp);
    }
    for (const run of sp.containers) {
      if (!await this.#startContainer(node, sp, run)) continue;
    }
    await this.#writeStatus(node, sp);
  }

  #onContainerChange(node: SimNode, info: ContainerInfo): void {
    if (info.state !== "exited") return;
    const sp = node.pods.get(info.labels[LABEL_POD_UID] ?? "");
    if (!sp || sp.terminating || sp.gone) return;
    const name = info.labels[LABEL_CONTAINER_NAME] ?? "";
    const waiter = sp.exits.get(name);
    if (waiter) {
      sp.exits.delete(name);
      waiter(info);
      return;
    }
    const run = sp.containers.find((r) => r.name === name && r.current?.id === info.id);
    if (!run) return;
    run.current = info;
    const policy = sp.pod.spec?.restartPolicy ?? "Always";
    if (policy === "Always" || (policy === "OnFailure" && info.exitCode !== 0)) {
      const delay = Math.min(300, 10 * 2 ** run.restartCount);
      run.previous = info;
      run.waiting = {
        reason: "CrashLoopBackOff",
        message: `back-off ${delay}s restarting failed container=${name} pod=${sp.pod.metadata.name}`,
      };
      sp.timers.push(this.#clock.setTimeout(() => {
        this.#enqueue(node, sp, async () => {
          if (sp.terminating) return;
          run.restartCount++;
          await this.#startContainer(node, sp, run);
          await node.runtime.removeContainer(`${sp.uid}-${name}-${run.restartCount - 2}`);
          await this.#writeStatus(node, sp);
        });
      }, delay * 1000));
    }
    this.#enqueue(node, sp, () => this.#writeStatus(node, sp));
  }

  async #writeStatus(node: SimNode, sp: SimPod): Promise<void> {
    if (sp.gone || sp.terminating) return;
    const status = simulatedPodStatus(sp.pod, {
      init: sp.init,
      containers: sp.containers,
      podIP: sp.podIP,
      hostIP: node.hostIP,
      startTime: sp.startTime,
      now: this.#clock.now(),
    });
    const { name, namespace } = sp.pod.metadata;
    try {
      await this.#limiter.run(() =>
        this.#podClient.patch(name!, { status }, { namespace: namespace!, subresource: "status" })
      );
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
    this.#stats.podStatusWrites++;
    const running = status.phase === "Running" &&
      status.conditions!.some((c) => c.type === "Ready" && c.status === "True");
    if (running !== sp.running && !sp.gone) {
      sp.running = running;
      this.#stats.running += running ? 1 : -1;
    }
  }

  async #terminate(node: SimNode, sp: SimPod): Promise<void> {
    const grace = sp.pod.metadata.deletionGracePeriodSeconds ?? sp.pod.spec?.terminationGracePeriodSeconds ?? 30;
    await this.#removeContainers(node, sp, grace);
    const { name, namespace } = sp.pod.metadata;
    try {
      await this.#limiter.run(() =>
        this.#podClient.delete(name!, { namespace: namespace!, gracePeriodSeconds: 0, preconditions: { uid: sp.uid } })
      );
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof ConflictError)) throw err;
    }
    this.#forget(node, sp);
  }

  async #removeContainers(node: SimNode, sp: SimPod, grace: number): Promise<void> {
    for (const t of sp.timers) this.#clock.clearTimeout(t);
    sp.timers = [];
    const mine = await node.runtime.listContainers({ labels: { [LABEL_POD_UID]: sp.uid } });
    await Promise.all(mine.map((c) => node.runtime.stopContainer(c.id, { gracePeriodSeconds: grace })));
    for (const c of mine) await node.runtime.removeContainer(c.id);
  }

  #forget(node: SimNode, sp: SimPod): void {
    if (sp.gone) return;
    sp.gone = true;
    if (sp.running) this.#stats.running--;
    sp.running = false;
    node.pods.delete(sp.uid);
    node.freeSlots.push(sp.ipSlot);
    sp.chain = sp.chain.then(() => this.#removeContainers(node, sp, 0)).catch((err) =>
      this.#problem(`Simulated node "${node.name}" cannot remove the containers of a pod: ${message(err)}`)
    );
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
