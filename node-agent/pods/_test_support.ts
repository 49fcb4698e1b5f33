/**
 * Helpers for this folder's tests: an in-memory {@linkcode PodNetwork}
 * (for tests whose subject is not the network), and a harness that starts
 * a real control plane in a temporary directory, registers a node, and
 * runs a {@linkcode PodManager} as that node (NodeRestriction applies)
 * with a {@linkcode FakeRuntime} on a {@linkcode ManualClock}.
 *
 * The harness counts the agent's runtime and API calls in flight, so that
 * `advance()` moves the clock only once the agent has nothing left to do:
 * a test never depends on how fast the machine runs.
 *
 * @module
 */

import { ManualClock, type Node, NotFoundError, type Pod, type PodSpec } from "@skiff/api";
import { ApiClient, EventRecorder, type ResourceClient } from "@skiff/client";
import { type ControlPlane, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { FakeRuntime, type FakeRuntimeOptions, type Runtime } from "../runtime/mod.ts";
import type { GcReport, PodNetwork, PodNetworkStatus, PodSandbox, SandboxNetwork, SandboxRef } from "../network/mod.ts";
import { PodManager, type PodManagerOptions } from "./pod_manager.ts";

/**
 * A {@linkcode PodNetwork} in memory: every pod gets the next address of
 * 10.42.0.0/24 (or `ipFor`'s), and an empty file in `netnsDir` stands for
 * its network namespace.
 */
export class FakePodNetwork implements PodNetwork {
  /** The sandboxes set up, by pod uid. */
  readonly sandboxes = new Map<string, SandboxNetwork>();
  /** Every call, e.g. `setup web`, `teardown <uid>`. */
  readonly calls: string[] = [];
  /** Makes setup fail with this message while it returns one. */
  failSetup: ((sandbox: PodSandbox) => string | undefined) | undefined;
  readonly #ipFor: ((sandbox: PodSandbox) => string) | undefined;
  readonly #netnsDir: string;
  #next = 10;

  /** Creates the network; `ipFor` chooses addresses. */
  constructor(options: { ipFor?: (sandbox: PodSandbox) => string; netnsDir?: string } = {}) {
    this.#ipFor = options.ipFor;
    this.#netnsDir = options.netnsDir ?? Deno.makeTempDirSync({ prefix: "skiff-fake-netns-" });
  }

  /** Where the namespace files are. */
  get netnsDir(): string {
    return this.#netnsDir;
  }

  /** Sets a sandbox up, or returns the existing one. */
  setup(sandbox: PodSandbox): Promise<PodNetworkStatus> {
    this.calls.push(`setup ${sandbox.name}`);
    const failure = this.failSetup?.(sandbox);
    if (failure) return Promise.reject(new Error(failure));
    let s = this.sandboxes.get(sandbox.podUid);
    if (!s) {
      const ip = this.#ipFor?.(sandbox) ?? `10.42.0.${this.#next++}`;
      const netnsName = `fake-${sandbox.podUid.slice(0, 8)}`;
      s = {
        podUid: sandbox.podUid,
        namespace: sandbox.namespace,
        name: sandbox.name,
        netnsName,
        netnsPath: `${this.#netnsDir}/${netnsName}`,
        portMappings: sandbox.portMappings ?? [],
        ready: true,
        ip,
      };
      this.sandboxes.set(sandbox.podUid, s);
    }
    Deno.writeTextFileSync(s.netnsPath, "");
    return Promise.resolve({
      ip: s.ip!,
      prefixLength: 24,
      gateway: "10.42.0.1",
      mac: undefined,
      interface: "eth0",
      netnsName: s.netnsName,
      netnsPath: s.netnsPath,
    });
  }

  /** Removes a sandbox. */
  teardown(sandbox: SandboxRef): Promise<void> {
    this.calls.push(`teardown ${sandbox.podUid}`);
    const s = this.sandboxes.get(sandbox.podUid);
    // Idempotent like the real one: a namespace that vanished is already gone.
    try {
      if (s) Deno.removeSync(s.netnsPath);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.sandboxes.delete(sandbox.podUid);
    return Promise.resolve();
  }

  /** Checks a sandbox exists. */
  check(sandbox: SandboxRef): Promise<void> {
    if (this.sandboxes.has(sandbox.podUid)) return Promise.resolve();
    return Promise.reject(new NotFoundError(`Sandbox of pod ${sandbox.podUid} is not set up`));
  }

  /** The sandboxes. */
  list(): Promise<SandboxNetwork[]> {
    return Promise.resolve([...this.sandboxes.values()].map((s) => ({ ...s })));
  }

  /** Removes sandboxes of pods not in `live`. */
  gc(live: Iterable<string>): Promise<GcReport> {
    const keep = new Set(live);
    const removed: string[] = [];
    for (const [uid, s] of [...this.sandboxes]) {
      if (keep.has(uid)) continue;
      Deno.removeSync(s.netnsPath);
      this.sandboxes.delete(uid);
      removed.push(uid);
    }
    this.calls.push(`gc ${removed.join(",")}`);
    return Promise.resolve({ sandboxes: removed, namespaces: [], addresses: [], chains: [], inUse: [], failures: [] });
  }
}

/** Options of {@linkcode startHarness}. */
export interface HarnessOptions {
  /** Options of the fake runtime (its clock is the harness's). */
  runtime?: Omit<FakeRuntimeOptions, "clock">;
  /** Overrides of the pod manager's options. */
  manager?: Partial<PodManagerOptions>;
  /** The node's allocatable resources. */
  allocatable?: Record<string, string>;
  /** The network (default: a new {@linkcode FakePodNetwork}). */
  network?: FakePodNetwork;
  /** Start the manager (default true). */
  start?: boolean;
}

/** A control plane, a node and a pod manager running as that node. */
export interface Harness extends AsyncDisposable {
  /** The control plane. */
  plane: ControlPlane;
  /** An admin client. */
  admin: ApiClient;
  /** The node's client (what the manager uses). */
  nodeClient: ApiClient;
  /** The manager's clock. */
  clock: ManualClock;
  /** The runtime. */
  runtime: FakeRuntime;
  /** The network. */
  network: FakePodNetwork;
  /** The agent's data directory. */
  dataDir: string;
  /** The manager (replaced by `restart()`). */
  manager: PodManager;
  /** Admin access to pods. */
  pods: ResourceClient<Pod>;
  /** How many pods/status writes the node made. */
  statusWrites(): number;
  /** Creates a pod bound to the node, in `default`. */
  createPod(name: string, spec: Partial<PodSpec>, metadata?: Pod["metadata"]): Promise<Pod>;
  /** The pod as the API has it (undefined when gone). */
  getPod(name: string): Promise<Pod | undefined>;
  /** Events about a pod, as `Type Reason Message`, oldest first. */
  events(name: string): Promise<string[]>;
  /** Polls (real time) until `check` gives a truthy value. */
  waitFor<T>(
    what: string,
    check: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs?: number,
  ): Promise<T>;
  /**
   * Moves the clock by `ms` in steps of `stepMs`; before each step and at
   * the end, waits until the agent has finished its work (see
   * {@linkcode SETTLE_LIMIT_MS}).
   */
  advance(ms: number, stepMs?: number): Promise<void>;
  /**
   * Stops the manager (containers stay), runs `whileDown`, and starts a new
   * one on the same runtime, network and data dir.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

/** The node name the harness registers. */
export const NODE = "node-1";
/** The node's address. */
export const HOST_IP = "192.168.1.10";

/**
 * How long `advance()` waits for the agent to finish its work before it
 * fails, naming what is still busy: a limit for a hung agent, far above
 * what any step takes on a loaded machine.
 */
const SETTLE_LIMIT_MS = 30_000;
/** Event-loop turns in a row the agent must stay idle for `advance()` to go on. */
const IDLE_TURNS = 3;
/** Runtime calls of the fake that wait on the clock: a pull with a delay, a stop that waits out a grace period. */
const CLOCK_BOUND: ReadonlySet<PropertyKey> = new Set(["ensureImage", "stopContainer"]);

function settle(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The agent's runtime and API calls that have not finished. */
class InFlight {
  readonly #calls = new Map<number, { what: string; clockBound: boolean }>();
  #next = 0;

  /** Counts `promise` as in flight until it settles; returns it. */
  track<T>(what: string, clockBound: boolean, promise: Promise<T>): Promise<T> {
    const id = this.#next++;
    this.#calls.set(id, { what, clockBound });
    const done = () => void this.#calls.delete(id);
    promise.then(done, done);
    return promise;
  }

  /** The calls in flight. */
  get calls(): { what: string; clockBound: boolean }[] {
    return [...this.#calls.values()];
  }

  /** `runtime` as the agent sees it: every call that returns a promise is tracked. */
  runtime(runtime: FakeRuntime): Runtime {
    return new Proxy(runtime, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const result: unknown = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return this.track(`runtime.${String(prop)}`, CLOCK_BOUND.has(prop), result);
        };
      },
    });
  }
}

/**
 * Resolves once the manager is idle (no relist, sync or garbage collection)
 * and no runtime or API call of the agent is in flight, for
 * {@linkcode IDLE_TURNS} turns of the event loop in a row. A sync that
 * waits on the clock (a runtime call in {@linkcode CLOCK_BOUND}) counts as
 * idle, or the clock could never move on.
 *
 * @throws {Error} naming what is still busy after {@linkcode SETTLE_LIMIT_MS}.
 */
async function agentSettled(manager: () => PodManager, inFlight: InFlight): Promise<void> {
  const deadline = Date.now() + SETTLE_LIMIT_MS;
  for (let idleTurns = 0; idleTurns < IDLE_TURNS;) {
    let idle = false;
    // An idle manager resolves idle() within microtasks, so before the next turn; a busy one later.
    void manager().idle().then(() => idle = true);
    await settle(0);
    const calls = inFlight.calls;
    const working = calls.filter((c) => !c.clockBound).map((c) => c.what);
    const waitingOnClock = calls.length > working.length;
    if (working.length === 0 && (idle || waitingOnClock)) {
      idleTurns++;
      continue;
    }
    idleTurns = 0;
    if (Date.now() > deadline) {
      const busy = [...(idle ? [] : ["a pod worker, the PLEG or the garbage collection"]), ...working];
      throw new Error(`The pod agent did not finish its work within ${SETTLE_LIMIT_MS} ms: busy: ${busy.join(", ")}`);
    }
  }
}

/** Starts a harness; `await using` stops everything and removes its directories. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const root = await Deno.makeTempDir({ prefix: "skiff-pods-" });
  const plane = await startControlPlane({ dataDir: `${root}/plane`, port: 0, bind: "127.0.0.1", log: () => {} });
  const admin = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  let writes = 0;
  const inFlight = new InFlight();
  const asNode = plane.handler.as({ name: `node:${NODE}`, role: "node", nodeName: NODE });
  const nodeClient = new ApiClient({
    server: "https://in-process",
    transport: (req) => {
      const url = new URL(req.url);
      if (req.method === "PATCH" && url.pathname.endsWith("/status")) writes++;
      // A watch stays open for as long as the informer runs: it is not work in flight.
      if (url.searchParams.has("watch")) return asNode(req);
      return inFlight.track(`${req.method} ${url.pathname}`, false, asNode(req));
    },
  });
  await admin.kind<Node>("v1", "Node").create({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: NODE },
    status: {
      capacity: options.allocatable ?? { cpu: "4", memory: "8Gi", pods: "110" },
      allocatable: options.allocatable ?? { cpu: "4", memory: "8Gi", pods: "110" },
    },
  });
  const clock = new ManualClock(Date.now());
  const runtime = new FakeRuntime({ images: ["busybox"], ...options.runtime, clock });
  const network = options.network ?? new FakePodNetwork({ netnsDir: await Deno.makeTempDir({ dir: root }) });
  const dataDir = `${root}/agent`;
  const agentRuntime = inFlight.runtime(runtime);
  const recorder = new EventRecorder(nodeClient, { component: "skiff-agent", host: NODE });
  const newManager = () =>
    new PodManager({
      client: nodeClient,
      nodeName: NODE,
      runtime: agentRuntime,
      network,
      dataDir,
      hostIP: HOST_IP,
      recorder,
      clock,
      volumePlugins: { plugin: () => Promise.resolve(undefined) },
      ...options.manager,
    });
  const pods = admin.kind<Pod>("v1", "Pod");
  const harness: Harness = {
    plane,
    admin,
    nodeClient,
    clock,
    runtime,
    network,
    dataDir,
    manager: newManager(),
    pods,
    statusWrites: () => writes,
    createPod: (name, spec, metadata = {}) =>
      pods.create({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "default", ...metadata },
        spec: { nodeName: NODE, containers: [{ name: "app", image: "busybox:1.36" }], ...spec },
      }),
    getPod: async (name) => {
      try {
        return await pods.get(name, { namespace: "default" });
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    },
    events: async (name) => {
      await recorder.flush();
      const list = await admin.kind("v1", "Event").list({ namespace: "default" });
      return list.items
        .filter((e) => (e.involvedObject as { name?: string } | undefined)?.name === name)
        .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)))
        .map((e) => `${e.type} ${e.reason} ${e.message}`);
    },
    waitFor: async (what, check, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await check();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
        await settle(10);
      }
    },
    advance: async (ms, stepMs = 1000) => {
      const settled = () => agentSettled(() => harness.manager, inFlight);
      await settled();
      for (let done = 0; done < ms; done += stepMs) {
        await clock.advance(Math.min(stepMs, ms - done));
        await settled();
      }
    },
    restart: async (whileDown) => {
      await harness.manager.stop();
      await whileDown?.();
      harness.manager = newManager();
      await harness.manager.start();
    },
    async [Symbol.asyncDispose]() {
      await harness.manager.stop();
      await recorder.flush();
      for (const c of await runtime.listContainers()) {
        await runtime.stopContainer(c.id, { gracePeriodSeconds: 0 });
        await runtime.removeContainer(c.id);
      }
      await plane.stop();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(network.netnsDir, { recursive: true }).catch(() => {});
    },
  };
  if (options.start !== false) await harness.manager.start();
  return harness;
}
