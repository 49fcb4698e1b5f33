import assert from "node:assert/strict";
import type { Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { HomelabProvider } from "./homelab_provider.ts";

/** The provider's machines are read from the Node alone: a client that is never called. */
const offline = new ApiClient({
  server: "https://in-process",
  transport: () => Promise.reject(new Error("instances() must not call the API")),
});

function node(annotations: Record<string, string>, labels: Record<string, string> = {}): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "pi-4", labels, annotations },
    status: {
      addresses: [
        { type: "InternalIP", address: "192.168.1.41" },
        { type: "ExternalIP", address: "203.0.113.7" },
        { type: "Hostname", address: "pi-4" },
      ],
    },
  };
}

Deno.test("HomelabProvider.instances() reports the addresses the agent gives, ExternalIP included, and the MAC", () => {
  const instances = new HomelabProvider({ client: offline }).instances();
  const reported = node({ "power.skiff.dev/mac": "dc:a6:32:12:34:56" });
  assert.deepEqual(instances.instanceMetadata(reported), {
    providerID: "skiff://pi-4",
    nodeAddresses: [
      { type: "InternalIP", address: "192.168.1.41" },
      { type: "ExternalIP", address: "203.0.113.7" },
      { type: "Hostname", address: "pi-4" },
    ],
    macAddress: "dc:a6:32:12:34:56",
  });
  assert.equal(instances.instanceMetadata(node({})).macAddress, undefined);
  assert.equal(instances.instanceShutdown(reported), false);
  assert.equal(instances.instanceShutdown(node({ "power.skiff.dev/state": "Sleeping" })), true);
  assert.equal(instances.instanceShutdown(node({ "power.skiff.dev/state": "Waking" })), false);
});

Deno.test("HomelabProvider.power().canSleep() needs the wake-on-lan label and a valid MAC", () => {
  const power = new HomelabProvider({ client: offline }).power();
  const label = { "power.skiff.dev/wake-on-lan": "true" };
  assert.equal(power.canSleep(node({ "power.skiff.dev/mac": "dc:a6:32:12:34:56" }, label)), true);
  assert.equal(power.canSleep(node({ "power.skiff.dev/mac": "dc:a6:32:12:34:56" })), false);
  assert.equal(power.canSleep(node({}, label)), false);
  assert.equal(power.canSleep(node({ "power.skiff.dev/mac": "not-a-mac" }, label)), false);
});
