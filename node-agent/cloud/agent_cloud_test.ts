import assert from "node:assert/strict";
import { ForbiddenError, type KubeObject, type Lease, type Node, type Service } from "@skiff/api";
import { ApiClient, EventRecorder } from "@skiff/client";
import { newToken, startControlPlane, SYSTEM_USER } from "../../control-plane/mod.ts";
import type { Exec } from "../_exec.ts";
import { type AgentCloud, startAgentCloud } from "./agent_cloud.ts";
import { loadBalancerLeaseName } from "./lb_announcer.ts";

async function eventually<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A control plane (API only) with node clients, and a recording exec per node that plays `ip`. */
async function testPlane() {
  const dir = await Deno.makeTempDir({ prefix: "skiff-agent-cloud-" });
  const plane = await startControlPlane({ dataDir: dir, port: 0, bind: "127.0.0.1", log: () => {} });
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER) });
  return {
    admin,
    async node(name: string, address: string) {
      const { token, secret } = await newToken({ role: "node", nodeName: name, description: `test ${name}` });
      await admin.kind("v1", "Secret").create(secret as KubeObject);
      await admin.kind<Node>("v1", "Node").create({ apiVersion: "v1", kind: "Node", metadata: { name } });
      const client = new ApiClient({ server: plane.url, token, transport: (req) => plane.handler(req) });
      const commands: string[] = [];
      const exec: Exec = (cmd) => {
        commands.push(cmd.join(" "));
        const stdout = cmd.join(" ") === "ip -j -4 addr show"
          ? JSON.stringify([{ ifname: "eth0", addr_info: [{ local: address, prefixlen: 24, label: "eth0" }] }])
          : cmd.join(" ") === "ip -j -4 addr show dev eth0"
          ? JSON.stringify([{ addr_info: [{ local: "192.168.77.249", prefixlen: 32, label: "eth0:lb" }] }])
          : "";
        return Promise.resolve({ code: 0, stdout, stderr: "" });
      };
      const recorder = new EventRecorder(client, { component: "skiff-agent", host: name });
      return { name, client, commands, exec, recorder };
    },
    async [Symbol.asyncDispose]() {
      await plane.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("startAgentCloud() has one node answer for a LoadBalancer address, and another take over when it stops", async () => {
  await using plane = await testPlane();
  const nodes = [await plane.node("node-a", "192.168.77.2"), await plane.node("node-b", "192.168.77.3")];
  const clouds: AgentCloud[] = [];
  try {
    for (const n of nodes) {
      clouds.push(
        await startAgentCloud({
          client: n.client,
          nodeName: n.name,
          internalIp: n.name === "node-a" ? "192.168.77.2" : "192.168.77.3",
          mac: "",
          recorder: n.recorder,
          exec: n.exec,
          leaseDurationSeconds: 2,
          log: () => {},
        }),
      );
    }
    // An address left by an earlier run is removed at start.
    assert.ok(nodes[0]!.commands.includes("ip -4 addr del 192.168.77.249/32 dev eth0"));

    const svc = await plane.admin.kind<Service>("v1", "Service").create({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "default" },
      spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
    });
    await plane.admin.kind<Service>("v1", "Service").updateStatus({
      ...svc,
      status: { loadBalancer: { ingress: [{ ip: "192.168.77.240", ipMode: "VIP" }] } },
    });
    const first = await eventually("one node to hold the address", () => {
      const holders = clouds.filter((c) => c.announcer.held.includes("192.168.77.240"));
      return holders.length === 1 ? holders[0] : undefined;
    });
    const index = clouds.indexOf(first);
    const holder = nodes[index]!;
    assert.ok(holder.commands.includes("ip -4 addr replace 192.168.77.240/32 dev eth0 label eth0:lb"));
    assert.ok(holder.commands.includes("arping -U -c 2 -I eth0 -s 192.168.77.240 192.168.77.240"));
    const lease = await plane.admin.kind<Lease>("coordination.k8s.io/v1", "Lease").get(
      loadBalancerLeaseName("192.168.77.240"),
      { namespace: "kube-system" },
    );
    assert.equal(lease.spec?.holderIdentity, holder.name);

    // A node may not hand the address to another node.
    const other = nodes[1 - index]!;
    await assert.rejects(
      holder.client.kind<Lease>("coordination.k8s.io/v1", "Lease").update({
        ...lease,
        spec: { ...lease.spec, holderIdentity: other.name },
      }),
      ForbiddenError,
    );

    await first.stop();
    assert.ok(holder.commands.includes("ip -4 addr del 192.168.77.240/32 dev eth0"));
    await eventually("the other node to take over", () => clouds[1 - index]!.announcer.held.includes("192.168.77.240"));
    assert.ok(other.commands.includes("arping -U -c 2 -I eth0 -s 192.168.77.240 192.168.77.240"));
  } finally {
    for (const cloud of clouds) await cloud.stop();
    for (const n of nodes) await n.recorder.flush();
  }
});

Deno.test("startAgentCloud() reports the MAC and suspends the machine once per sleep request", async () => {
  await using plane = await testPlane();
  const n = await plane.node("pi-1", "192.168.77.4");
  const cloud = await startAgentCloud({
    client: n.client,
    nodeName: n.name,
    internalIp: "192.168.77.4",
    mac: "dc:a6:32:12:34:56",
    recorder: n.recorder,
    exec: n.exec,
    announce: false,
    log: () => {},
  });
  try {
    const nodes = plane.admin.kind<Node>("v1", "Node");
    assert.equal((await nodes.get("pi-1")).metadata.annotations?.["power.skiff.dev/mac"], "dc:a6:32:12:34:56");
    await nodes.patch("pi-1", {
      metadata: {
        annotations: {
          "power.skiff.dev/state": "Sleeping",
          "power.skiff.dev/sleep-mode": "suspend",
          "power.skiff.dev/sleep-request": "2026-01-01T00:00:00.000Z",
        },
      },
    });
    await eventually(
      "the agent to mark the request done",
      async () =>
        (await nodes.get("pi-1")).metadata.annotations?.["power.skiff.dev/sleep-done"] === "2026-01-01T00:00:00.000Z",
    );
    await eventually("the suspend", () => n.commands.includes("systemctl suspend"));
    await n.recorder.flush();
    // The same request seen again (a resync, a restart) is not acted on twice.
    await nodes.patch("pi-1", { metadata: { labels: { touched: "yes" } } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(n.commands.filter((c) => c === "systemctl suspend").length, 1);
    assert.ok(!n.commands.some((c) => c.startsWith("ip -4 addr")), "announcing is off");
  } finally {
    await cloud.stop();
    await n.recorder.flush();
  }
});
