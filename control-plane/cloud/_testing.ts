/**
 * Test helpers for the cloud controllers: a real control plane (API server
 * and store) in a temp dir, an in-process admin client, and a controller
 * manager running the controllers under test.
 *
 * @module
 */

import type { Clock, Event, Service } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { type ControlPlane, startControlPlane, SYSTEM_USER } from "../control_plane.ts";
import { type Controller, ControllerManager } from "../controllers/mod.ts";

/** A control plane with controllers, for tests. */
export interface CloudTestCluster extends AsyncDisposable {
  /** The control plane. */
  plane: ControlPlane;
  /** An admin client (in process). */
  client: ApiClient;
}

/** Starts a control plane and runs `controllers` against it (no leader election). */
export async function startCloudTestCluster(
  controllers: (client: ApiClient) => Controller[],
  options: { clock?: Clock } = {},
): Promise<CloudTestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-cloud-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  const manager = new ControllerManager({
    client,
    controllers: controllers(client),
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

/** A LoadBalancer Service in `default` with one TCP port. */
export function loadBalancerService(name: string, spec: Service["spec"] = {}): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

/** The Events about the object named `name`. */
export async function eventsAbout(client: ApiClient, name: string): Promise<Event[]> {
  return (await client.kind<Event>("v1", "Event").list()).items.filter((e) => e.involvedObject.name === name);
}
