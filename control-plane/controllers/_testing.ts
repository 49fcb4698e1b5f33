/**
 * Test helpers for controllers: a real control plane (API server and
 * store) in a temp dir, an in-process client, and a controller manager.
 *
 * @module
 */

import { type Clock, ConflictError, type KubeObject, type Node, NotFoundError, type Pod, type Taint } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { type ControlPlane, startControlPlane, SYSTEM_USER } from "../control_plane.ts";
import type { Controller } from "./controller.ts";
import { ControllerManager } from "./manager.ts";

/** A control plane with controllers, for tests. */
export interface TestCluster {
  /** The control plane. */
  plane: ControlPlane;
  /** An admin client (in process). */
  client: ApiClient;
  /** The controller manager. */
  manager: ControllerManager;
  /** Stops everything and removes the temp dir. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode startTestCluster}. */
export interface TestClusterOptions {
  /** The controllers' clock (a ManualClock for timing tests); the API server keeps the real one. */
  clock?: Clock;
}

/** Starts a control plane and runs `controllers` (or those the function makes with the admin client) against it (no leader election). */
export async function startTestCluster(
  controllers: Controller[] | ((client: ApiClient) => Controller[]),
  options: TestClusterOptions = {},
): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-ctl-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const manager = new ControllerManager({
    client,
    controllers: typeof controllers === "function" ? controllers(client) : controllers,
    identity: "test",
    leaderElection: false,
    log: () => {},
    ...(options.clock ? { clock: options.clock } : {}),
  });
  manager.start();
  await manager.synced;
  return {
    plane,
    client,
    manager,
    async [Symbol.asyncDispose]() {
      await manager.stop();
      await plane.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Waits until `condition` holds (polling), failing after `timeoutMs` with `what`. */
export async function waitFor<T>(
  what: string,
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Marks every pod matching `filter` scheduled, Running and Ready, as a node agent would. */
export async function markPodsReady(
  client: ApiClient,
  filter: (pod: Pod) => boolean = () => true,
): Promise<number> {
  const pods = client.kind<Pod>("v1", "Pod");
  let marked = 0;
  for (const pod of (await pods.list()).items) {
    if (!filter(pod) || pod.metadata.deletionTimestamp) continue;
    if (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) continue;
    if (!pod.spec?.nodeName) await pods.bind(pod.metadata.name!, "node-a", { namespace: pod.metadata.namespace! });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    await pods.patch(pod.metadata.name!, {
      status: {
        phase: "Running",
        podIP: "10.42.0.10",
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: now },
          { type: "Ready", status: "True", lastTransitionTime: now },
        ],
      },
    }, { namespace: pod.metadata.namespace!, subresource: "status" });
    marked++;
  }
  return marked;
}

/** Lists objects of a kind in a namespace. */
export async function listOf<T extends KubeObject>(
  client: ApiClient,
  apiVersion: string,
  kind: string,
  namespace = "default",
): Promise<T[]> {
  return (await client.kind<T>(apiVersion, kind).list({ namespace })).items;
}

/** Options of {@linkcode createNode}. */
export interface TestNodeOptions {
  /** Labels. */
  labels?: Record<string, string>;
  /** Taints. */
  taints?: Taint[];
  /** The Ready condition's status (default True). */
  ready?: "True" | "False" | "Unknown";
  /** The Ready condition's heartbeat time in ms (default now). */
  heartbeat?: number;
}

/** Registers a Node as an agent would (Ready, with a heartbeat). */
export async function createNode(client: ApiClient, name: string, options: TestNodeOptions = {}): Promise<Node> {
  const time = new Date(options.heartbeat ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  return await client.kind<Node>("v1", "Node").create({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
    spec: options.taints ? { taints: options.taints } : {},
    status: {
      capacity: { cpu: "4", memory: "8Gi", pods: "110" },
      conditions: [{
        type: "Ready",
        status: options.ready ?? "True",
        reason: "KubeletReady",
        lastHeartbeatTime: time,
        lastTransitionTime: time,
      }],
    },
  });
}

/** Options of {@linkcode runPod}. */
export interface RunPodOptions {
  /** The node to bind to, when the pod is not bound yet (default node-a). */
  node?: string;
  /** The pod's IP (default 10.42.0.10). */
  ip?: string;
  /** Whether the Ready condition is True (default true). */
  ready?: boolean;
  /** The phase (default Running). */
  phase?: "Running" | "Succeeded" | "Failed";
}

/** Binds a pod (unless bound) and reports it running, as a node agent would. */
export async function runPod(client: ApiClient, pod: Pod, options: RunPodOptions = {}): Promise<Pod> {
  const pods = client.kind<Pod>("v1", "Pod");
  const namespace = pod.metadata.namespace!;
  if (!pod.spec?.nodeName) await pods.bind(pod.metadata.name!, options.node ?? "node-a", { namespace });
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return await pods.patch(pod.metadata.name!, {
    status: {
      phase: options.phase ?? "Running",
      podIP: options.ip ?? "10.42.0.10",
      podIPs: [{ ip: options.ip ?? "10.42.0.10" }],
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
        { type: "Ready", status: options.ready === false ? "False" : "True", lastTransitionTime: now },
      ],
    },
  }, { namespace, subresource: "status" });
}

/** Deletes a pod at once, as a node agent does once its containers have stopped. */
export async function forceDelete(client: ApiClient, pod: Pod): Promise<void> {
  try {
    await client.kind("v1", "Pod").delete(pod.metadata.name!, {
      namespace: pod.metadata.namespace!,
      gracePeriodSeconds: 0,
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
}

/** Runs a write again while it fails with ConflictError (another writer got there first), as client-go's RetryOnConflict. */
export async function retryOnConflict<T>(write: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= attempts) throw err;
    }
  }
}
