/**
 * Test helpers for the cloud controllers: a real control plane (API server
 * and store) in a temp dir, an in-process admin client, and a controller
 * manager running the controllers under test.
 *
 * @module
 */

import type { Clock, Event, Service } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import type { ControlPlane } from "../control_plane.ts";
import type { Controller } from "../controllers/mod.ts";
import { startTestCluster, waitFor } from "../controllers/_testing.ts";

export { waitFor };

/** A control plane with controllers, for tests. */
export interface CloudTestCluster extends AsyncDisposable {
  /** The control plane. */
  plane: ControlPlane;
  /** An admin client (in process). */
  client: ApiClient;
}

/**
 * Starts a control plane and runs `controllers` against it (no leader
 * election); the controllers are made with the cluster's admin client.
 */
export function startCloudTestCluster(
  controllers: (client: ApiClient) => Controller[],
  options: { clock?: Clock } = {},
): Promise<CloudTestCluster> {
  return startTestCluster(controllers, options);
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
