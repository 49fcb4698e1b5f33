import assert from "node:assert/strict";
import type { KubeObject, Node, Pod } from "@skiff/api";
import { at, type TestCluster, withHomelab } from "./_test_harness.ts";
import { planDrain } from "./drain_run.ts";

const pod = (name: string, namespace: string, extra: Partial<Pod["spec"]> & { owner?: string }): Pod => {
  const { owner, ...spec } = extra;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      ...(owner
        ? {
          ownerReferences: [{
            apiVersion: "apps/v1",
            kind: owner,
            name: `${name}-owner`,
            uid: `uid-${name}`,
            controller: true,
          }],
        }
        : {}),
    },
    spec: { nodeName: "pi-1", containers: [{ name: "main", image: "busybox" }], ...spec },
  } as Pod;
};

/** Adds a DaemonSet pod and a ReplicaSet pod with emptyDir data to pi-1, besides the fixture's unmanaged web-1. */
async function morePods(cluster: TestCluster) {
  const pods = cluster.admin.kind("v1", "Pod");
  await pods.create(pod("proxy-pi-1", "kube-system", { owner: "DaemonSet" }));
  await pods.create(pod("api-7d9", "default", { owner: "ReplicaSet", volumes: [{ name: "cache", emptyDir: {} }] }));
}

/**
 * Plays pi-1's agent: pods marked for deletion are stopped and confirmed
 * gone (deleted with grace period 0), as the kubelet does.
 */
function fakeAgent(cluster: TestCluster): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    const pods = cluster.admin.kind<Pod>("v1", "Pod");
    while (running) {
      const list = await pods.list({ fieldSelector: "spec.nodeName=pi-1" });
      for (const p of list.items.filter((p: KubeObject) => p.metadata.deletionTimestamp)) {
        await pods.delete(p.metadata.name!, { namespace: p.metadata.namespace!, gracePeriodSeconds: 0 }).catch(
          () => {},
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}

Deno.test("cordon and uncordon mark nodes unschedulable and back", async () => {
  await withHomelab(async (cluster, clock) => {
    assert.equal((await cluster.run(["uncordon", "pi-2"], at(clock))).stdout, "node/pi-2 uncordoned\n");
    assert.equal((await cluster.run(["cordon", "pi-2"], at(clock))).stdout, "node/pi-2 cordoned\n");
    assert.equal((await cluster.run(["cordon", "pi-2"], at(clock))).stdout, "node/pi-2 already cordoned\n");
    const selected = await cluster.run(["cordon", "-l", "kubernetes.io/arch=arm64"], at(clock));
    assert.equal(selected.stdout, "node/pi-1 cordoned\nnode/pi-2 already cordoned\n");
    const nodes = cluster.admin.kind<Node>("v1", "Node");
    assert.equal((await nodes.get("pi-1")).spec?.unschedulable, true);
    assert.equal((await cluster.run(["uncordon", "pi-1"], at(clock))).stdout, "node/pi-1 uncordoned\n");
    assert.equal((await nodes.get("pi-1")).spec?.unschedulable, undefined);
    const missing = await cluster.run(["cordon", "pi-9"], at(clock));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nodes "pi-9" not found/);
  });
});

Deno.test("drain refuses DaemonSet, unmanaged and emptyDir pods without their flags, leaving the node cordoned", async () => {
  await withHomelab(async (cluster, clock) => {
    await morePods(cluster);
    const result = await cluster.run(["drain", "pi-1"], at(clock));
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "node/pi-1 cordoned\n");
    assert.equal(
      result.stderr,
      'error: cannot drain node "pi-1": cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/proxy-pi-1; ' +
        "cannot delete Pods that declare no controller (use --force to override): default/web-1; " +
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): default/api-7d9: " +
        "the node stays cordoned; run `skiff uncordon pi-1` to undo\n",
    );
    assert.equal((await cluster.admin.kind<Node>("v1", "Node").get("pi-1")).spec?.unschedulable, true);
  });
});

Deno.test("drain evicts pods through pods/eviction and times out clearly when they do not stop", async () => {
  await withHomelab(async (cluster, clock) => {
    await morePods(cluster);
    const args = ["drain", "pi-1", "--ignore-daemonsets", "--force", "--delete-emptydir-data", "--timeout=1s"];
    const result = await cluster.run(args, at(clock));
    assert.equal(result.code, 1);
    assert.equal(
      result.stdout,
      [
        "node/pi-1 cordoned",
        "evicting pod default/api-7d9",
        "evicting pod default/web-1",
        "evicting pod kube-system/backup-28912",
        "pod/backup-28912 evicted",
        "",
      ].join("\n"),
    );
    assert.match(result.stderr, /^Warning: ignoring DaemonSet-managed Pods: kube-system\/proxy-pi-1\n/);
    assert.match(result.stderr, /Warning: deleting Pods that declare no controller: default\/web-1\n/);
    assert.match(result.stderr, /Warning: deleting Pods with local storage: default\/api-7d9\n/);
    assert.match(
      result.stderr,
      /error: timed out after 1s waiting for 2 pod\(s\) to leave node "pi-1": default\/api-7d9, default\/web-1 \(it is still stopping on node "pi-1" \(grace period 30s\): check that node's agent, or delete with --grace-period=0 --force\): the node stays cordoned; retry with a longer --timeout\n$/,
    );
  });
});

Deno.test("drain waits for the agent to stop each evicted pod, then reports the node drained", async () => {
  await withHomelab(async (cluster, clock) => {
    await morePods(cluster);
    const agent = fakeAgent(cluster);
    try {
      const result = await cluster.run(
        ["drain", "pi-1", "--ignore-daemonsets", "--force", "--delete-emptydir-data", "--timeout=20s"],
        at(clock),
      );
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trimEnd().split("\n");
      assert.equal(lines[0], "node/pi-1 cordoned");
      assert.deepEqual(lines.filter((l) => l.startsWith("evicting")).length, 3);
      assert.deepEqual(
        lines.filter((l) => l.endsWith(" evicted")).sort(),
        ["pod/api-7d9 evicted", "pod/backup-28912 evicted", "pod/web-1 evicted"],
      );
      assert.equal(lines.at(-1), "node/pi-1 drained");
      const left = await cluster.admin.kind<Pod>("v1", "Pod").list({ fieldSelector: "spec.nodeName=pi-1" });
      assert.deepEqual(left.items.map((p) => p.metadata.name), ["proxy-pi-1"]);
    } finally {
      await agent.stop();
    }
  });
});

Deno.test("planDrain skips mirror pods and lets finished pods go without flags", () => {
  const mirror = pod("static", "kube-system", {});
  mirror.metadata.annotations = { "kubernetes.io/config.mirror": "hash" };
  const done = { ...pod("job-1", "default", {}), status: { phase: "Succeeded" as const } };
  const plan = planDrain([mirror, done], { ignoreDaemonsets: false, force: false, deleteEmptyDirData: false });
  assert.deepEqual(plan.evict.map((p) => p.metadata.name), ["job-1"]);
  assert.deepEqual(plan.errors, []);
  assert.deepEqual(plan.warnings, []);
});
