import assert from "node:assert/strict";
import { type KubeObject, type Node, NotFoundError, type Pod } from "@skiff/api";
import { ApiClient, createTlsFetch } from "@skiff/client";
import { joinCluster, type NodeCredentials, parseJoinToken } from "@skiff/node-agent";
import { createTempDir, eventually } from "../test/support/mod.ts";
import type { TestCluster } from "./_test_harness.ts";
import { captureIo, withCluster } from "./_test_harness.ts";
import { runCli } from "./main.ts";

/** Joins `name` with a join token from `skiff token create`, as its agent would, and returns its credential. */
async function joinNode(cluster: TestCluster, name: string, dataDir: string): Promise<NodeCredentials> {
  const created = await cluster.run(["token", "create"]);
  assert.equal(created.code, 0, created.stderr);
  const joinToken = created.stdout.split("\n")[0]!;
  parseJoinToken(joinToken);
  return await joinCluster({
    token: joinToken,
    server: cluster.server.url,
    nodeName: name,
    dataDir,
    defaultNodeName: name,
  });
}

/** Registers a Node with a Ready condition, its Lease, and pods bound to it, as its agent and controllers would. */
async function arrange(cluster: TestCluster, name: string, ready: boolean): Promise<void> {
  const nodes = cluster.admin.kind<Node>("v1", "Node");
  const node = await nodes.create({ apiVersion: "v1", kind: "Node", metadata: { name } });
  await nodes.updateStatus({
    ...node,
    status: {
      conditions: [{
        type: "Ready",
        status: ready ? "True" : "Unknown",
        reason: ready ? "KubeletReady" : "NodeStatusUnknown",
        lastHeartbeatTime: new Date().toISOString(),
        lastTransitionTime: new Date().toISOString(),
      }],
    },
  });
  await cluster.admin.kind("coordination.k8s.io/v1", "Lease").create({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: "kube-node-lease" },
    spec: { holderIdentity: name, leaseDurationSeconds: 40 },
  } as KubeObject);
  const pod = (podName: string, nodeName: string, owner: "ReplicaSet" | "DaemonSet"): Pod => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName,
      namespace: "default",
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: owner,
        name: `${owner.toLowerCase()}-1`,
        uid: crypto.randomUUID(),
        controller: true,
      }],
    },
    spec: { nodeName, containers: [{ name: "main", image: "busybox" }] },
  });
  const pods = cluster.admin.kind<Pod>("v1", "Pod");
  await pods.create(pod(`web-on-${name}`, name, "ReplicaSet"));
  await pods.create(pod(`proxy-on-${name}`, name, "DaemonSet"));
  await pods.create(pod("web-elsewhere", "pi-9", "ReplicaSet"));
}

async function exists(cluster: TestCluster, apiVersion: string, kind: string, name: string, namespace?: string) {
  try {
    await cluster.admin.kind(apiVersion, kind).get(name, namespace ? { namespace } : {});
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/** Whether the API still accepts the node's credential. */
async function credentialWorks(credentials: NodeCredentials): Promise<boolean> {
  using tls = createTlsFetch({ caPem: credentials.caPem! });
  const client = new ApiClient({ server: credentials.server, token: credentials.token, transport: tls });
  try {
    await client.request("GET", "/api/v1/namespaces");
    return true;
  } catch {
    return false;
  }
}

Deno.test("skiff node delete retires a NotReady node: pods deleted at once, DaemonSet pods left, token, Lease and Node gone", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-node-delete-" });
  await withCluster(async (cluster) => {
    const credentials = await joinNode(cluster, "pi-3", tmp.path);
    await arrange(cluster, "pi-3", false);
    assert.ok(await credentialWorks(credentials));

    const result = await cluster.run(["node", "delete", "pi-3"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Warning: node "pi-3" is not Ready: its pods are deleted at once/);
    assert.match(result.stderr, /Warning: ignoring DaemonSet-managed Pods: default\/proxy-on-pi-3/);
    for (
      const line of [
        "node/pi-3 cordoned",
        "node/pi-3 drained",
        'revoked 1 node token of "pi-3": its agent can no longer act as it',
        "lease kube-node-lease/pi-3 deleted",
        "node/pi-3 deleted",
      ]
    ) {
      assert.ok(result.stdout.includes(`${line}\n`), `prints "${line}":\n${result.stdout}`);
    }
    assert.match(result.stdout, /To bring the machine back, run `skiff agent --server URL --token K10…`/);

    assert.equal(await exists(cluster, "v1", "Node", "pi-3"), false);
    assert.equal(await exists(cluster, "coordination.k8s.io/v1", "Lease", "pi-3", "kube-node-lease"), false);
    assert.equal(await exists(cluster, "v1", "Pod", "web-on-pi-3", "default"), false, "its pod is deleted");
    assert.equal(await exists(cluster, "v1", "Pod", "proxy-on-pi-3", "default"), true, "DaemonSet pods are left");
    assert.equal(await exists(cluster, "v1", "Pod", "web-elsewhere", "default"), true, "other nodes' pods stay");
    await eventually("the node's credential is refused", async () => !await credentialWorks(credentials));
  });
});

Deno.test("skiff node delete drains a Ready node, waiting for its agent to stop the evicted pods", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-node-delete-" });
  await withCluster(async (cluster) => {
    await joinNode(cluster, "pi-4", tmp.path);
    await arrange(cluster, "pi-4", true);
    // Play the agent: a pod given a deletionTimestamp is stopped and removed.
    const pods = cluster.admin.kind<Pod>("v1", "Pod");
    const stop = new AbortController();
    const agent = (async () => {
      while (!stop.signal.aborted) {
        for (const pod of (await pods.list({ namespace: "default", fieldSelector: "spec.nodeName=pi-4" })).items) {
          if (pod.metadata.deletionTimestamp) {
            await pods.delete(pod.metadata.name!, { namespace: "default", gracePeriodSeconds: 0 }).catch(() => {});
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      const result = await cluster.run(["node", "delete", "pi-4"]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!result.stderr.includes("is not Ready"), result.stderr);
      assert.match(result.stdout, /node\/pi-4 drained\n[^]*node\/pi-4 deleted\n/);
    } finally {
      stop.abort();
      await agent;
    }
    assert.equal(await exists(cluster, "v1", "Pod", "web-on-pi-4", "default"), false);
    assert.equal(await exists(cluster, "v1", "Node", "pi-4"), false);
  });
});

Deno.test("skiff node delete of a node that does not exist says so, and deletes nothing", async () => {
  await withCluster(async (cluster) => {
    const result = await cluster.run(["node", "delete", "ghost"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^error: node "ghost" not found, and no node token is bound to that name: see the nodes with `skiff get nodes`\n$/,
    );
  });
});

Deno.test("skiff node delete --help says it drains the node, then deletes the Node and its node credential", async () => {
  const { io, stdout } = captureIo();
  assert.equal(await runCli(["node", "delete", "--help"], io), 0);
  const help = stdout();
  assert.match(help, /drain it \(cordon, then evict its pods\), then delete the Node and\s+its node credential secret/);
  assert.match(help, /kube-system\/skiff-token-<id>/);
  assert.match(help, /join again under the same name with a new join token/);
});
