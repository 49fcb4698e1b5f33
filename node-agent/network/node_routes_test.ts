import assert from "node:assert/strict";
import type { Node } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import { createTempDir, eventually } from "../../test/support/mod.ts";
import { nodePodCidrs, NodeRoutes } from "./node_routes.ts";
import { HostGwRoutes } from "./routes.ts";
import { recordingExec } from "./_test_support.ts";

function node(name: string, podCidr: string | undefined, address: string | undefined): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec: podCidr ? { podCIDR: podCidr } : {},
    status: address ? { addresses: [{ type: "InternalIP", address }, { type: "Hostname", address: name }] } : {},
  };
}

Deno.test("nodePodCidrs() maps each node's InternalIP to its pod CIDR and reports nodes it cannot route to", () => {
  const found = nodePodCidrs([
    node("pi-2", "10.42.2.0/24", "192.168.1.12"),
    node("pi-1", "10.42.1.0/24", "192.168.1.11"),
    node("new", undefined, "192.168.1.14"),
    node("v6", "10.42.4.0/24", "fd00::5"),
    node("pi-9", "10.42.9.0/24", "192.168.1.11"),
  ]);
  assert.deepEqual(
    [...found.podCidrsByNodeAddress],
    [["192.168.1.11", "10.42.1.0/24"], ["192.168.1.12", "10.42.2.0/24"]],
  );
  assert.deepEqual(found.problems, [
    'Node "pi-9" has the InternalIP 192.168.1.11 of node "pi-1": no route to its pods (10.42.9.0/24)',
    'Node "v6" has no IPv4 InternalIP: no route to its pods (10.42.4.0/24)',
  ]);
});

Deno.test("new NodeRoutes() names the option that is not valid", () => {
  const client = new ApiClient({ server: "https://in-process", transport: () => Promise.resolve(new Response()) });
  assert.throws(() => new NodeRoutes({ source: {} as { client: ApiClient }, ownAddress: "192.168.1.11" }), {
    name: "TypeError",
    message: 'Invalid option "source": expected { client } or { informers }',
  });
  assert.throws(() => new NodeRoutes({ source: { client }, ownAddress: "pi-1" }), {
    name: "TypeError",
    message: 'Invalid option "ownAddress": "pi-1" is not an IPv4 address',
  });
  assert.throws(() => new NodeRoutes({ source: { client }, ownAddress: "192.168.1.11", debounceMs: -5 }), {
    name: "TypeError",
    message: 'Invalid option "debounceMs": -5 is not a number of milliseconds',
  });
});

Deno.test("NodeRoutes keeps a route to every other node's pods as nodes join, move and leave, and keeps them after stop()", async () => {
  await using dir = await createTempDir({ prefix: "skiff-node-routes-" });
  const plane = await startControlPlane({ dataDir: dir.path, port: 0, bind: "127.0.0.1", log: () => {} });
  const client = new ApiClient({ server: "https://in-process", transport: plane.handler.as(SYSTEM_USER) });
  // The node's routing table as `ip` would keep it: destination -> gateway.
  const table = new Map<string, string>();
  const { exec, commands } = recordingExec((cmd) => {
    const [, , verb, cidr, , via] = cmd;
    if (cmd.includes("show")) {
      return { stdout: JSON.stringify([...table].map(([dst, gateway]) => ({ dst, gateway, dev: "eth0" }))) };
    }
    if (verb === "replace") table.set(cidr!, via!);
    if (verb === "del") table.delete(cidr!);
    return {};
  });
  const logs: string[] = [];
  const routes = new NodeRoutes({
    source: { client },
    ownAddress: "192.168.1.11",
    routes: new HostGwRoutes({ exec, netns: "node-1" }),
    debounceMs: 0,
    log: (line) => logs.push(line),
  });
  const nodes = client.kind<Node>("v1", "Node");
  try {
    await nodes.create(node("pi-1", "10.42.1.0/24", "192.168.1.11"));
    await nodes.create(node("pi-2", "10.42.2.0/24", "192.168.1.12"));
    const first = await routes.start();
    assert.deepEqual(first?.added, [{ cidr: "10.42.2.0/24", via: "192.168.1.12" }]);
    assert.deepEqual([...table], [["10.42.2.0/24", "192.168.1.12"]]);
    assert.ok(commands.some((c) => c.cmd.join(" ").includes("net.ipv4.ip_forward=1")), "forwarding is turned on");
    assert.ok(commands.every((c) => c.options.netns === "node-1"));

    await nodes.create(node("pi-3", "10.42.3.0/24", "192.168.1.13"));
    await eventually("a route to the joining node's pods", () => table.get("10.42.3.0/24") === "192.168.1.13");

    await nodes.patch("pi-2", { status: { addresses: [{ type: "InternalIP", address: "192.168.1.22" }] } }, {
      subresource: "status",
    });
    await eventually("the route following the node's new address", () => table.get("10.42.2.0/24") === "192.168.1.22");

    await nodes.delete("pi-3");
    await eventually("the deleted node's route gone", () => !table.has("10.42.3.0/24"));
    assert.deepEqual([...table].sort(), [["10.42.2.0/24", "192.168.1.22"]]);
    assert.ok(logs.includes("Route to pods 10.42.3.0/24 via node 192.168.1.13: removed"), logs.join("\n"));
  } finally {
    await routes.stop();
    await plane.stop();
  }
  // Stopping leaves the routes for the agent's next start.
  assert.deepEqual([...table], [["10.42.2.0/24", "192.168.1.22"]]);
  await assert.rejects(() => routes.start(), { message: "Cannot start NodeRoutes that were stopped" });
});
