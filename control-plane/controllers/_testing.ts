/**
 * Test helpers for controllers: a real control plane (API server and
 * store) in a temp dir, an in-process client, and a controller manager.
 *
 * @module
 */

import type { KubeObject, Pod } from "@skiff/api";
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

/** Starts a control plane and runs `controllers` against it (no leader election). */
export async function startTestCluster(controllers: Controller[]): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-ctl-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const manager = new ControllerManager({
    client,
    controllers,
    identity: "test",
    leaderElection: false,
    log: () => {},
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
