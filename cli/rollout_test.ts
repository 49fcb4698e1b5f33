import assert from "node:assert/strict";
import type { DaemonSet, Deployment, KubeObject, StatefulSet } from "@skiff/api";
import { assertGolden, type TestCluster, withCluster } from "./_test_harness.ts";
import { daemonSetRolloutState, deploymentRolloutState, statefulSetRolloutState } from "./rollout_run.ts";

const template = (image: string) => ({
  metadata: { labels: { app: "web" } },
  spec: { containers: [{ name: "web", image }] },
});

/**
 * A deployment with two revisions, as the deployment controller leaves it:
 * one ReplicaSet per revision, owned by the deployment, annotated with its
 * revision and change cause. The test plays the controller (the API runs
 * alone), so nothing else writes these objects.
 */
async function deploymentWithHistory(cluster: TestCluster): Promise<Deployment> {
  const deployments = cluster.admin.kind<Deployment>("apps/v1", "Deployment");
  const web = await deployments.create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", annotations: { "kubernetes.io/change-cause": "upgrade to 1.27" } },
    spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: template("nginx:1.27") },
  });
  const live = await deployments.get("web", { namespace: "default" });
  const owner = { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: web.metadata.uid!, controller: true };
  const replicaSets = cluster.admin.kind("apps/v1", "ReplicaSet");
  for (
    const [revision, image, hash, cause] of [["1", "nginx:1.26", "5d8f7c", "first release"], [
      "2",
      "nginx:1.27",
      "6b9d4f",
      "upgrade to 1.27",
    ]]
  ) {
    await replicaSets.create({
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: `web-${hash}`,
        namespace: "default",
        labels: { app: "web", "pod-template-hash": hash! },
        annotations: { "deployment.kubernetes.io/revision": revision!, "kubernetes.io/change-cause": cause! },
        ownerReferences: [owner],
      },
      spec: {
        replicas: revision === "2" ? 3 : 0,
        selector: { matchLabels: { app: "web", "pod-template-hash": hash! } },
        template: {
          metadata: { labels: { app: "web", "pod-template-hash": hash! } },
          spec: {
            ...live.spec!.template!.spec!,
            containers: [{ ...live.spec!.template!.spec!.containers[0]!, image: image! }],
          },
        },
      },
    } as KubeObject);
  }
  return live;
}

Deno.test("rollout history lists revisions with their change cause, and shows one revision's template", async () => {
  await withCluster(async (cluster) => {
    await deploymentWithHistory(cluster);
    const history = await cluster.run(["rollout", "history", "deployment/web"]);
    assert.equal(history.code, 0, history.stderr);
    assert.equal(
      history.stdout,
      "deployment.apps/web\nREVISION   CHANGE-CAUSE\n1          first release\n2          upgrade to 1.27\n\n",
    );
    const one = await cluster.run(["rollout", "history", "deploy", "web", "--revision=1"]);
    assert.equal(one.code, 0, one.stderr);
    await assertGolden("rollout_history_revision.txt", one.stdout);
    const missing = await cluster.run(["rollout", "history", "deploy/web", "--revision=7"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /unable to find revision 7 of deployment\.apps\/web: it has revisions 1, 2/);
    const wrongKind = await cluster.run(["rollout", "history", "cm/web"]);
    assert.equal(wrongKind.code, 2);
  }, { apiOnly: true });
});

Deno.test("rollout undo copies the previous revision's template, without its pod-template-hash, into the deployment", async () => {
  await withCluster(async (cluster) => {
    await deploymentWithHistory(cluster);
    const undo = await cluster.run(["rollout", "undo", "deploy/web"]);
    assert.equal(undo.code, 0, undo.stderr);
    assert.equal(undo.stdout, "deployment.apps/web rolled back\n");
    const live = await cluster.admin.kind<Deployment>("apps/v1", "Deployment").get("web", { namespace: "default" });
    assert.equal(live.spec!.template!.spec!.containers[0]!.image, "nginx:1.26");
    assert.deepEqual(live.spec!.template!.metadata!.labels, { app: "web" });
    assert.equal(live.metadata.annotations?.["kubernetes.io/change-cause"], "first release");
    const again = await cluster.run(["rollout", "undo", "deploy/web", "--to-revision=1"]);
    assert.equal(again.stdout, "deployment.apps/web skipped rollback (current template already matches revision 1)\n");
    const missing = await cluster.run(["rollout", "undo", "deploy/web", "--to-revision=9"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /unable to find revision 9 of deployment\.apps\/web/);
    await cluster.run(["rollout", "pause", "deploy/web"]);
    const paused = await cluster.run(["rollout", "undo", "deploy/web", "--to-revision=2"]);
    assert.equal(paused.code, 1);
    assert.match(
      paused.stderr,
      /you cannot roll back a paused deployment: resume it first with `skiff rollout resume deployment\/web`/,
    );
  }, { apiOnly: true });
});

Deno.test("rollout status prints progress as the deployment rolls out and ends when it is complete", async () => {
  await withCluster(async (cluster) => {
    const web = await deploymentWithHistory(cluster);
    const deployments = cluster.admin.kind<Deployment>("apps/v1", "Deployment");
    const setStatus = async (status: Deployment["status"]) => {
      const current = await deployments.get("web", { namespace: "default" });
      await deployments.updateStatus({ ...current, status });
    };
    const watching = cluster.start(["rollout", "status", "deploy/web"]);
    const steps: Deployment["status"][] = [
      { observedGeneration: web.metadata.generation, replicas: 3, updatedReplicas: 1, availableReplicas: 2 },
      { observedGeneration: web.metadata.generation, replicas: 4, updatedReplicas: 3, availableReplicas: 3 },
      { observedGeneration: web.metadata.generation, replicas: 3, updatedReplicas: 3, availableReplicas: 2 },
      {
        observedGeneration: web.metadata.generation,
        replicas: 3,
        updatedReplicas: 3,
        availableReplicas: 3,
        readyReplicas: 3,
      },
    ];
    const progress = [
      "Waiting for deployment spec update to be observed...",
      'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
      'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
      'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
      'deployment "web" successfully rolled out',
    ];
    // Each step once the previous one is printed: the first line means the
    // command has read the deployment and watches it from there.
    for (const [i, step] of steps.entries()) {
      await watching.waitFor(`${progress[i]}\n`);
      await setStatus(step);
    }
    const result = await watching.result;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, [...progress, ""].join("\n"));
    const done = await cluster.run(["rollout", "status", "deploy/web"]);
    assert.equal(done.stdout, 'deployment "web" successfully rolled out\n');
    await setStatus({
      observedGeneration: web.metadata.generation,
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 1,
    });
    const started = performance.now();
    const timedOut = await cluster.run(["rollout", "status", "deploy/web", "--timeout=1s"]);
    assert.ok(performance.now() - started < 15_000, "gives up at its timeout, not later");
    assert.equal(timedOut.code, 1);
    assert.match(
      timedOut.stderr,
      /^error: timed out after 1s waiting for deployment\.apps\/web to roll out: 1 of 3 updated replicas are available: see why with `skiff describe deployment web`/,
    );
  }, { apiOnly: true });
});

Deno.test("rollout restart stamps the pod template; pause and resume toggle spec.paused", async () => {
  await withCluster(async (cluster) => {
    await deploymentWithHistory(cluster);
    const now = Date.UTC(2026, 4, 1, 12, 30, 0);
    const restarted = await cluster.run(["rollout", "restart", "deploy/web"], { now: () => now });
    assert.equal(restarted.stdout, "deployment.apps/web restarted\n", restarted.stderr);
    const deployments = cluster.admin.kind<Deployment>("apps/v1", "Deployment");
    const live = await deployments.get("web", { namespace: "default" });
    assert.equal(
      live.spec!.template!.metadata!.annotations?.["kubectl.kubernetes.io/restartedAt"],
      "2026-05-01T12:30:00Z",
    );
    assert.equal((await cluster.run(["rollout", "pause", "deploy/web"])).stdout, "deployment.apps/web paused\n");
    assert.equal((await deployments.get("web", { namespace: "default" })).spec!.paused, true);
    const refused = await cluster.run(["rollout", "restart", "deploy/web"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /can't restart paused deployment \(run `skiff rollout resume deployment\/web` first\)/,
    );
    assert.equal((await cluster.run(["rollout", "resume", "deploy/web"])).stdout, "deployment.apps/web resumed\n");
    assert.equal((await deployments.get("web", { namespace: "default" })).spec!.paused, undefined);
    const wrong = await cluster.run(["rollout", "restart", "svc/web"]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /rollout restart works on deployments, daemonsets and statefulsets, not services/);
  }, { apiOnly: true });
});

Deno.test("rollout states of daemon sets and stateful sets follow kubectl's status viewers", () => {
  const ds = (
    status: Partial<NonNullable<DaemonSet["status"]>>,
    generation = 2,
  ): DaemonSet => ({ metadata: { name: "proxy", generation }, status } as DaemonSet);
  assert.equal(
    daemonSetRolloutState(ds({ observedGeneration: 1 })).message,
    "Waiting for daemon set spec update to be observed...",
  );
  assert.equal(
    daemonSetRolloutState(ds({ observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 1 })).message,
    'Waiting for daemon set "proxy" rollout to finish: 1 out of 3 new pods have been updated...',
  );
  assert.equal(
    daemonSetRolloutState(
      ds({ observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 }),
    ).done,
    true,
  );
  const sts = (
    status: Partial<NonNullable<StatefulSet["status"]>>,
  ): StatefulSet => ({ metadata: { name: "db", generation: 1 }, spec: { replicas: 2 }, status } as StatefulSet);
  assert.equal(
    statefulSetRolloutState(sts({ observedGeneration: 1, readyReplicas: 1 })).message,
    "Waiting for 1 pods to be ready...",
  );
  assert.deepEqual(
    statefulSetRolloutState(
      sts({
        observedGeneration: 1,
        readyReplicas: 2,
        currentRevision: "db-1",
        updateRevision: "db-1",
        currentReplicas: 2,
      }),
    ),
    { message: "statefulset rolling update complete 2 pods at revision db-1...", done: true },
  );
  assert.throws(
    () =>
      deploymentRolloutState({
        metadata: { name: "web", generation: 1 },
        status: {
          observedGeneration: 1,
          conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
        },
      } as Deployment),
    /deployment "web" exceeded its progress deadline/,
  );
});
