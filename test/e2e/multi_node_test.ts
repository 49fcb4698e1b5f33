/**
 * Cluster networking end to end on three real network hosts: a control
 * plane on the host and three `skiff agent` processes, each in its own
 * network namespace on a lab bridge, sharing one containerd
 * (`test/support/multi_node.ts`). Pods reach pods on other nodes, a
 * Service's ClusterIP, its NodePort on every node address and its DNS
 * name; restarting an agent keeps connections, routes and rules; a Service
 * scaled to no endpoints refuses connections at once.
 *
 * Node failure and recovery run in `multi_node_partition_test.ts`, on a
 * cluster of their own, so the two files can run in parallel.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Deployment, EndpointSlice, Pod, Service } from "@skiff/api";
import { eventually, requireTools } from "../support/mod.ts";
import {
  MULTI_NODE_TOOL_HINTS,
  MULTI_NODE_TOOLS,
  type MultiNodeCluster,
  serviceEndpointIps,
  startMultiNodeCluster,
} from "../support/multi_node.ts";
import { BUSYBOX, readyPods, webDeployment } from "./_multi_node_workloads.ts";

const needs = requireTools(MULTI_NODE_TOOLS, { root: true, hints: MULTI_NODE_TOOL_HINTS });

/** Runs `wget` in a pod; resolves with what it printed and how long it took. */
async function podGet(cluster: MultiNodeCluster, pod: string, url: string, timeoutSeconds = 5) {
  const started = performance.now();
  const result = await cluster.podExec(pod, ["timeout", String(timeoutSeconds), "wget", "-q", "-O", "-", url], {
    check: false,
  });
  return { ...result, ms: performance.now() - started };
}

Deno.test({
  name: "cluster network on 3 network hosts: pods, ClusterIP, NodePort, DNS, agent restart, no endpoints",
  ...needs,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using cluster = await startMultiNodeCluster({ nodes: 3 });
    try {
      await scenarios(t, cluster);
    } catch (error) {
      for (const node of cluster.nodes) {
        console.error(`--- agent of ${node.name} (last lines) ---\n${node.output().split("\n").slice(-60).join("\n")}`);
      }
      throw error;
    }
  },
});

async function scenarios(t: Deno.TestContext, cluster: MultiNodeCluster): Promise<void> {
  const [a, b, c] = cluster.nodes;
  const pods = cluster.client.kind<Pod>("v1", "Pod");
  const deployments = cluster.client.kind<Deployment>("apps/v1", "Deployment");
  const services = cluster.client.kind<Service>("v1", "Service");
  const slices = cluster.client.kind<EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice");
  // Each step needs the ones before it: stop at the first that fails, with the agents' logs.
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step(name, fn)) throw new Error(`The step "${name}" failed; later steps were not run`);
  };

  // Two web pods, one on B and one on C (never on A, never two on one node); a client on A.
  await deployments.create(webDeployment({ name: "web", replicas: 2, avoidNode: a!.name }));
  await pods.create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "client", namespace: "default" },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": a!.name },
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "main", ...BUSYBOX, command: ["sleep", "3600"] }],
    },
  });
  const service = await services.create({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: {
      type: "NodePort",
      selector: { app: "web" },
      ports: [
        { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
        { name: "echo", port: 9000, targetPort: 9000, protocol: "TCP" },
      ],
    },
  });
  const clusterIp = service.spec!.clusterIP!;
  const nodePort = service.spec!.ports!.find((p) => p.name === "http")!.nodePort!;
  const web = await eventually("2 web pods Ready", () => readyPods(cluster.client, "app=web", 2), {
    timeoutMs: 90_000,
  });
  assert.deepEqual(web.map((p) => p.spec!.nodeName).sort(), [b!.name, c!.name].sort());
  await eventually("the client pod Running", async () => {
    const pod = await pods.get("client", { namespace: "default" });
    return pod.status?.phase === "Running" && pod.status.podIP !== undefined;
  }, { timeoutMs: 90_000 });
  // Every node's table sends the Service to both pods.
  const webTargets = web.map((p) => `${p.status!.podIP}:8080`).sort();
  for (const node of cluster.nodes) {
    await eventually(`node "${node.name}" proxying to both web pods`, async () => {
      const targets = serviceEndpointIps(await cluster.nftTable(node.index));
      return webTargets.every((target) => targets.includes(target));
    }, { timeoutMs: 30_000 });
  }

  await step("a pod on node A reaches pods on B and C by their pod IPs", async () => {
    for (const pod of web) {
      const got = await podGet(cluster, "client", `http://${pod.status!.podIP}:8080/`);
      assert.equal(got.code, 0, `wget from A to ${pod.metadata.name} failed: ${got.stderr}`);
      assert.equal(got.stdout.trim(), pod.metadata.name);
    }
  });

  await step("a Service's ClusterIP from node A reaches the endpoints on B and C, both", async () => {
    // One exec, 30 requests: each lands on either pod at random (numgen), so both answer (p(miss) = 2^-29).
    const loop = await cluster.podExec("client", [
      "sh",
      "-c",
      `for i in $(seq 30); do timeout 5 wget -q -O - http://${clusterIp}/ || echo FAILED; done`,
    ]);
    const answers = loop.stdout.trim().split("\n");
    assert.equal(answers.length, 30);
    assert.deepEqual([...new Set(answers)].sort(), web.map((p) => p.metadata.name!).sort());
  });

  await step("a Service name resolves from a pod, short and fully qualified", async () => {
    const lookup = await cluster.podExec("client", ["nslookup", "web.default.svc.cluster.local"], { check: false });
    assert.match(lookup.stdout, new RegExp(`Address:\\s+${clusterIp.replaceAll(".", "\\.")}\\b`), lookup.stdout);
    const short = await podGet(cluster, "client", "http://web/");
    assert.equal(short.code, 0, `wget http://web/ failed: ${short.stderr}`);
    assert.ok(web.some((p) => p.metadata.name === short.stdout.trim()), short.stdout);
  });

  await step("the NodePort answers on every node address, including a node without a web pod", async () => {
    for (const node of cluster.nodes) {
      const response = await fetch(`http://${node.address}:${nodePort}/`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.text()).trim();
      assert.equal(response.status, 200);
      assert.ok(web.some((p) => p.metadata.name === body), `NodePort on ${node.address} answered "${body}"`);
    }
  });

  await step("restarting node A's agent keeps an open connection, its routes and its rules", async () => {
    // A connection through the ClusterIP from A to an echo server, fed a line every 200 ms.
    await cluster.podExec("client", [
      "sh",
      "-c",
      `( (while true; do echo ping; sleep 0.2; done) | nc ${clusterIp} 9000 > /tmp/echo.out ) ` +
      "</dev/null >/dev/null 2>&1 &",
    ]);
    const echoed = async () => {
      const out = await cluster.podExec("client", ["cat", "/tmp/echo.out"]);
      return out.stdout.split("\n").filter((line) => line === "ping").length;
    };
    const growing = async (what: string) => {
      const before = await echoed();
      await eventually(`the connection echoing ${what}`, async () => (await echoed()) >= before + 3, {
        timeoutMs: 10_000,
      });
    };
    await growing("before the restart");
    const rules = await cluster.nftTable(a!.index);
    const routes = (await cluster.exec(a!.index, ["ip", "route", "show", "proto", "152"])).stdout;
    assert.equal(routes.trim().split("\n").length, 2, routes);

    await cluster.stopAgent(a!.index);
    await growing("while the agent is down");
    assert.equal(await cluster.nftTable(a!.index), rules, "the rules changed when the agent stopped");
    assert.equal((await cluster.exec(a!.index, ["ip", "route", "show", "proto", "152"])).stdout, routes);

    await cluster.startAgent(a!.index);
    await growing("after the agent restarted");
    assert.equal(await cluster.nftTable(a!.index), rules, "the restarted agent changed the rules");
    assert.equal((await cluster.exec(a!.index, ["ip", "route", "show", "proto", "152"])).stdout, routes);
    const client = await pods.get("client", { namespace: "default" });
    assert.equal(client.status?.phase, "Running");
  });

  await step("scaling the endpoints to 0 makes connections to the ClusterIP fail at once", async () => {
    await deployments.patch("web", { spec: { replicas: 0 } }, { namespace: "default" });
    await eventually("no web endpoints", async () => {
      const list = await slices.list({ namespace: "default", labelSelector: "kubernetes.io/service-name=web" });
      return list.items.every((slice) => (slice.endpoints ?? []).length === 0);
    }, { timeoutMs: 60_000 });
    // Once node A's proxy has the change, a connection is refused instead of hanging.
    let last: Awaited<ReturnType<typeof podGet>> | undefined;
    const refused = await eventually("a refused connection to the ClusterIP", async () => {
      const got = last = await podGet(cluster, "client", `http://${clusterIp}/`);
      return got.code !== 0 && /refused/i.test(got.stderr) ? got : undefined;
    }, { timeoutMs: 30_000 }).catch(async (error) => {
      const table = await cluster.nftTable(a!.index).catch((e) => String(e));
      throw new Error(
        `${error.message}\nwget: code ${last?.code}, ${Math.round(last?.ms ?? 0)} ms, stdout ${
          JSON.stringify(last?.stdout)
        }, stderr ${JSON.stringify(last?.stderr)}\nnode A's table:\n${table}\nnode A's agent (last lines):\n${
          a!.output().split("\n").slice(-60).join("\n")
        }`,
      );
    });
    assert.ok(refused.ms < 4_000, `refusing took ${Math.round(refused.ms)} ms`);
    assert.deepEqual(serviceEndpointIps(await cluster.nftTable(a!.index)), []);
  });
}
