import assert from "node:assert/strict";
import type { Pod } from "@skiff/api";
import { releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { requireTools } from "../../test/support/mod.ts";
import { containerLabels, type ContainerSpec, LABEL_CONTAINER_NAME, LABEL_POD_UID } from "../runtime/mod.ts";
import { CsiClient } from "../volume/mod.ts";
import { mountsUnder } from "./_mounts.ts";
import { FakePodNetwork, HOST_IP, NODE, startHarness } from "./_test_support.ts";

const condition = (pod: Pod | undefined, type: string) => pod?.status?.conditions?.find((c) => c.type === type);
const isReady = (pod: Pod | undefined) => condition(pod, "Ready")?.status === "True";

Deno.test("PodManager runs a pod: Running and Ready with its address, container status and events", async () => {
  await using h = await startHarness();
  const created = await h.createPod("web", {
    containers: [{
      name: "app",
      image: "busybox:1.36",
      command: ["httpd", "-f", "-p", "$(PORT)"],
      env: [
        { name: "PORT", value: "8080" },
        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      ],
      resources: { limits: { cpu: "500m", memory: "64Mi" } },
    }],
  });
  const pod = await h.waitFor("web to be Ready", async () => {
    const p = await h.getPod("web");
    return isReady(p) && p;
  });
  const uid = created.metadata.uid!;
  assert.equal(pod.status?.phase, "Running");
  assert.equal(pod.status?.podIP, "10.42.0.10");
  assert.equal(pod.status?.hostIP, HOST_IP);
  assert.equal(pod.status?.qosClass, "Guaranteed");
  assert.ok(pod.status?.startTime);
  const status = pod.status?.containerStatuses?.[0];
  assert.equal(status?.containerID, `fake://${uid}_app_0`);
  assert.equal(status?.ready, true);
  assert.equal(status?.started, true);
  assert.equal(status?.restartCount, 0);
  assert.equal(status?.image, "docker.io/library/busybox:1.36");
  assert.match(status?.imageID ?? "", /^sha256:/);
  assert.ok(status?.state?.running?.startedAt);
  for (const type of ["PodScheduled", "Initialized", "ContainersReady", "Ready"]) {
    assert.equal(condition(pod, type)?.status, "True", type);
  }

  const [container] = await h.runtime.listContainers({ labels: { [LABEL_POD_UID]: uid } });
  assert.equal(container?.id, `${uid}_app_0`);
  assert.equal(container?.labels[LABEL_CONTAINER_NAME], "app");
  assert.equal(container?.logPath, `${h.dataDir}/pods/${uid}/logs/app/0.log`);

  const events = await h.events("web");
  assert.ok(events.includes('Normal Pulling Pulling image "busybox:1.36"'), events.join("\n"));
  assert.ok(events.some((e) => e.startsWith('Normal Pulled Successfully pulled image "busybox:1.36" in ')));
  assert.ok(events.includes("Normal Created Created container app"));
  assert.ok(events.includes("Normal Started Started container app"));
  assert.deepEqual(h.network.calls.filter((c) => !c.startsWith("gc")), ["setup web"]);
  assert.equal(NODE, pod.spec?.nodeName);
});

Deno.test("PodManager restarts a crashing container with a growing back-off: 10 s, 20 s, 40 s (CrashLoopBackOff)", async () => {
  const starts: number[] = [];
  await using h = await startHarness({
    runtime: {
      behavior: () => ({ exitAfterMs: 1000, exitCode: 1 }),
      onStateChange: (c) => {
        if (c.state === "running") starts.push(c.startedAt!);
      },
    },
  });
  const created = await h.createPod("crash", {});
  const uid = created.metadata.uid!;
  await h.waitFor("the first start", () => starts.length === 1);
  const messages: string[] = [];
  for (let i = 0; i < 120 && starts.length < 5; i++) {
    await h.advance(1000);
    await h.waitFor("the agent to settle", async () => {
      const pod = await h.getPod("crash");
      const waiting = pod?.status?.containerStatuses?.[0]?.state?.waiting?.message;
      if (waiting && !messages.includes(waiting)) messages.push(waiting);
      return true;
    });
  }
  assert.equal(starts.length, 5, "four restarts");
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  const expected = [1000, 11_000, 21_000, 41_000];
  gaps.forEach((gap, i) => assert.ok(gap >= expected[i]! && gap <= expected[i]! + 1000, `gap ${i}: ${gap}`));
  assert.deepEqual(
    messages,
    [10, 20, 40].map((s) => `back-off ${s}s restarting failed container=app pod=crash_default(${uid})`),
  );
  const pod = await h.waitFor("restartCount 4", async () => {
    const p = await h.getPod("crash");
    return p?.status?.containerStatuses?.[0]?.restartCount === 4 && p;
  });
  assert.equal(pod.status?.phase, "Running");
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.reason, "Error");
  const events = await h.events("crash");
  assert.ok(events.includes(`Warning BackOff Back-off restarting failed container app in pod crash_default(${uid})`));
  assert.ok((await h.runtime.listContainers()).length <= 2, "older runs are removed");
});

Deno.test("PodManager with restartPolicy Never reports Succeeded or Failed and tears the sandbox down", async () => {
  await using h = await startHarness({
    runtime: {
      behavior: (spec) => ({ exitAfterMs: 1000, exitCode: spec.command?.[0] === "fail" ? 3 : 0 }),
    },
  });
  const ok = await h.createPod("ok", {
    restartPolicy: "Never",
    containers: [{ name: "app", image: "busybox:1.36", command: ["true"] }],
  });
  const bad = await h.createPod("bad", {
    restartPolicy: "Never",
    containers: [{ name: "app", image: "busybox:1.36", command: ["fail"] }],
  });
  await h.waitFor("both started", async () => (await h.runtime.listContainers({ states: ["running"] })).length === 2);
  await h.advance(2000);
  const done = await h.waitFor("ok Succeeded", async () => {
    const p = await h.getPod("ok");
    return p?.status?.phase === "Succeeded" && p;
  });
  assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.reason, "Completed");
  assert.equal(condition(done, "Ready")?.reason, "PodCompleted");
  const failed = await h.waitFor("bad Failed", async () => {
    const p = await h.getPod("bad");
    return p?.status?.phase === "Failed" && p;
  });
  assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
  assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.reason, "Error");
  await h.waitFor("sandboxes torn down", () => h.network.sandboxes.size === 0);
  assert.ok(h.network.calls.includes(`teardown ${ok.metadata.uid}`));
  assert.ok(h.network.calls.includes(`teardown ${bad.metadata.uid}`));
  await h.advance(30_000, 5000);
  assert.equal((await h.runtime.listContainers({ states: ["running"] })).length, 0, "nothing restarted");
});

Deno.test("PodManager with restartPolicy OnFailure restarts a failed container, not a succeeded one", async () => {
  let runs = 0;
  await using h = await startHarness({
    runtime: { behavior: () => ({ exitAfterMs: 1000, exitCode: runs++ === 0 ? 1 : 0 }) },
  });
  await h.createPod("job", { restartPolicy: "OnFailure" });
  await h.waitFor("started", () => runs === 1);
  await h.advance(6000);
  const pod = await h.waitFor("Succeeded after one restart", async () => {
    const p = await h.getPod("job");
    return p?.status?.phase === "Succeeded" && p;
  });
  assert.equal(pod.status?.containerStatuses?.[0]?.restartCount, 1);
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
  assert.equal(runs, 2);
});

Deno.test("PodManager reports a container killed for its memory limit as OOMKilled", async () => {
  await using h = await startHarness({ runtime: { behavior: () => ({ oomAfterMs: 500 }) } });
  await h.createPod("hog", {
    restartPolicy: "Never",
    containers: [{ name: "app", image: "busybox:1.36", resources: { limits: { memory: "16Mi" } } }],
  });
  await h.waitFor("started", async () => (await h.runtime.listContainers({ states: ["running"] })).length === 1);
  const [spec] = await h.runtime.listContainers();
  assert.ok(spec);
  await h.advance(1000);
  const pod = await h.waitFor("OOMKilled", async () => {
    const p = await h.getPod("hog");
    return p?.status?.phase === "Failed" && p;
  });
  assert.deepEqual(
    [
      pod.status?.containerStatuses?.[0]?.state?.terminated?.reason,
      pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode,
    ],
    ["OOMKilled", 137],
  );
});

Deno.test("PodManager runs init containers in order, each to exit 0, before the containers", async () => {
  const started: string[] = [];
  await using h = await startHarness({
    runtime: {
      behavior: (spec) => spec.labels["skiff.dev/container-name"] === "app" ? {} : { exitAfterMs: 1000, exitCode: 0 },
      onStateChange: (c) => {
        if (c.state === "running") started.push(c.labels["skiff.dev/container-name"]!);
      },
    },
  });
  await h.createPod("init", {
    initContainers: [{ name: "fetch", image: "busybox:1.36" }, { name: "migrate", image: "busybox:1.36" }],
  });
  await h.waitFor("fetch started", () => started.length === 1);
  const pending = await h.waitFor("status while fetch runs", async () => {
    const p = await h.getPod("init");
    return p?.status?.initContainerStatuses?.[0]?.state?.running && p;
  });
  assert.equal(pending.status?.phase, "Pending");
  assert.equal(condition(pending, "Initialized")?.message, "containers with incomplete status: [fetch migrate]");
  assert.deepEqual(pending.status?.containerStatuses?.[0]?.state, { waiting: { reason: "PodInitializing" } });
  // Each step runs on when the PLEG sees the previous container exit: one advance may cover both.
  await h.advance(2000);
  await h.waitFor("migrate started", () => started.includes("migrate"));
  await h.advance(2000);
  await h.waitFor("app started", () => started.includes("app"));
  assert.deepEqual(started, ["fetch", "migrate", "app"]);
  const pod = await h.waitFor("Ready", async () => {
    const p = await h.getPod("init");
    return isReady(p) && p;
  });
  assert.equal(pod.status?.initContainerStatuses?.[1]?.state?.terminated?.reason, "Completed");
  assert.equal(condition(pod, "Initialized")?.status, "True");
});

Deno.test("PodManager fails the pod when an init container fails with restartPolicy Never", async () => {
  await using h = await startHarness({ runtime: { behavior: () => ({ exitAfterMs: 500, exitCode: 2 }) } });
  await h.createPod("broken", { restartPolicy: "Never", initContainers: [{ name: "fetch", image: "busybox:1.36" }] });
  await h.waitFor("fetch started", async () => (await h.runtime.listContainers()).length === 1);
  await h.advance(1000);
  const pod = await h.waitFor("Failed", async () => {
    const p = await h.getPod("broken");
    return p?.status?.phase === "Failed" && p;
  });
  assert.equal(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 2);
  assert.equal(
    (await h.runtime.listContainers()).filter((c) => c.labels["skiff.dev/container-name"] === "app").length,
    0,
  );
});

Deno.test("PodManager restarts a container whose liveness probe fails, with Unhealthy and Killing events", async () => {
  let healthy = true;
  await using h = await startHarness({
    runtime: {
      exec: () =>
        healthy ? { exitCode: 0, stdout: "", stderr: "" } : { exitCode: 1, stdout: "unhealthy\n", stderr: "" },
    },
  });
  await h.createPod("live", {
    containers: [{
      name: "app",
      image: "busybox:1.36",
      livenessProbe: { exec: { command: ["check"] }, periodSeconds: 5, failureThreshold: 2 },
    }],
  });
  await h.waitFor("Ready", async () => isReady(await h.getPod("live")));
  await h.advance(10_000);
  healthy = false;
  await h.advance(10_000);
  healthy = true;
  const pod = await h.waitFor("restarted", async () => {
    const p = await h.getPod("live");
    return p?.status?.containerStatuses?.[0]?.restartCount === 1 && p?.status?.containerStatuses?.[0]?.state?.running &&
      p;
  });
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 143);
  const events = await h.events("live");
  assert.ok(events.includes("Warning Unhealthy Liveness probe failed: unhealthy"), events.join("\n"));
  assert.ok(events.includes("Normal Killing Container app failed liveness probe, will be restarted"));
  await h.advance(30_000, 5000);
  assert.equal((await h.getPod("live"))?.status?.containerStatuses?.[0]?.restartCount, 1, "healthy again");
});

Deno.test("PodManager makes a pod Ready only while its readiness probe passes", async () => {
  let code = 503;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("", { status: code }),
  );
  try {
    await using h = await startHarness({ network: new FakePodNetwork({ ipFor: () => "127.0.0.1" }) });
    await h.createPod("ready", {
      containers: [{
        name: "app",
        image: "busybox:1.36",
        readinessProbe: { httpGet: { path: "/ready", port: server.addr.port }, periodSeconds: 5, failureThreshold: 1 },
      }],
    });
    const running = await h.waitFor("Running", async () => {
      const p = await h.getPod("ready");
      return p?.status?.phase === "Running" && p;
    });
    assert.equal(condition(running, "Ready")?.status, "False");
    assert.equal(condition(running, "ContainersReady")?.message, "containers with unready status: [app]");
    assert.equal(running.status?.containerStatuses?.[0]?.ready, false);
    code = 200;
    await h.advance(5000);
    const ready = await h.waitFor("Ready", async () => {
      const p = await h.getPod("ready");
      return isReady(p) && p;
    });
    code = 500;
    await h.advance(5000);
    const unready = await h.waitFor("unready again", async () => {
      const p = await h.getPod("ready");
      return condition(p, "Ready")?.status === "False" && p;
    });
    assert.notEqual(condition(unready, "Ready")?.lastTransitionTime, undefined);
    assert.ok(condition(ready, "Ready")!.lastTransitionTime! <= condition(unready, "Ready")!.lastTransitionTime!);
    assert.ok(
      (await h.events("ready")).includes(
        "Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500",
      ),
    );
    assert.equal(unready.status?.containerStatuses?.[0]?.restartCount, 0, "readiness never restarts");
  } finally {
    await server.shutdown();
  }
});

Deno.test("PodManager stops a deleted pod within its grace period, tears down, and deletes it from the API", async () => {
  const execs: string[][] = [];
  await using h = await startHarness({
    runtime: {
      behavior: () => ({ ignoreSigterm: true }),
      exec: (_id, command) => {
        execs.push(command);
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    },
  });
  const created = await h.createPod("gone", {
    volumes: [{ name: "scratch", emptyDir: {} }],
    containers: [{
      name: "app",
      image: "busybox:1.36",
      lifecycle: { preStop: { exec: { command: ["drain"] } } },
      volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
    }],
  });
  const uid = created.metadata.uid!;
  await h.waitFor("Ready", async () => isReady(await h.getPod("gone")));
  await Deno.stat(`${h.dataDir}/pods/${uid}`);
  await h.pods.delete("gone", { namespace: "default", gracePeriodSeconds: 5 });
  await h.waitFor("preStop ran", () => execs.some((c) => c[0] === "drain"));
  assert.ok(await h.getPod("gone"), "still there during the grace period");
  await h.advance(5000);
  await h.waitFor("pod deleted from the API", async () => (await h.getPod("gone")) === undefined);
  await h.waitFor("containers removed", async () => (await h.runtime.listContainers()).length === 0);
  await h.waitFor("pod directory removed", async () => {
    try {
      await Deno.stat(`${h.dataDir}/pods/${uid}`);
      return false;
    } catch {
      return true;
    }
  });
  assert.equal(h.network.sandboxes.size, 0);
  const events = await h.events("gone");
  assert.ok(events.includes("Normal Killing Stopping container app"), events.join("\n"));
});

Deno.test("PodManager reports ErrImagePull, then ImagePullBackOff, then runs once the image can be pulled", async () => {
  let broken = true;
  await using h = await startHarness({
    runtime: { pullError: (ref) => broken && ref.includes("nosuch") ? "manifest unknown" : undefined },
  });
  await h.createPod("img", { containers: [{ name: "app", image: "nosuch:1" }] });
  const first = await h.waitFor("ErrImagePull", async () => {
    const p = await h.getPod("img");
    return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ErrImagePull" && p;
  });
  assert.match(first.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "", /manifest unknown/);
  await h.advance(1000);
  const backoff = await h.waitFor("ImagePullBackOff", async () => {
    const p = await h.getPod("img");
    return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff" && p;
  });
  assert.equal(backoff.status?.containerStatuses?.[0]?.state?.waiting?.message, 'Back-off pulling image "nosuch:1"');
  assert.equal(backoff.status?.phase, "Pending");
  broken = false;
  await h.advance(10_000);
  await h.waitFor("Running", async () => isReady(await h.getPod("img")));
  const events = await h.events("img");
  assert.ok(events.some((e) => e.startsWith('Warning Failed Failed to pull image "nosuch:1": ')), events.join("\n"));
  assert.ok(events.includes('Normal BackOff Back-off pulling image "nosuch:1"'));
});

Deno.test("PodManager writes pods/status only when the status changes", async () => {
  await using h = await startHarness();
  await h.createPod("quiet", {});
  await h.waitFor("Ready", async () => isReady(await h.getPod("quiet")));
  await h.advance(3000);
  const writes = h.statusWrites();
  await h.advance(120_000, 2000);
  assert.equal(h.statusWrites(), writes);
});

Deno.test("PodManager sets up emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes and mounts them", async () => {
  const specs: ContainerSpec[] = [];
  await using h = await startHarness({ runtime: { behavior: (spec) => void specs.push(spec) } });
  const hostDir = `${h.dataDir}-host/data`;
  await h.admin.kind("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "app-config", namespace: "default" },
    data: { "app.yaml": "port: 80\n", "other": "x" },
  });
  await h.admin.kind("v1", "Secret").create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "app-secret", namespace: "default" },
    data: { password: btoa("s3cret") },
  });
  const created = await h.createPod("vols", {
    volumes: [
      { name: "scratch", emptyDir: {} },
      { name: "host", hostPath: { path: hostDir, type: "DirectoryOrCreate" } },
      {
        name: "config",
        configMap: { name: "app-config", items: [{ key: "app.yaml", path: "conf/app.yaml", mode: 0o600 }] },
      },
      { name: "secret", secret: { secretName: "app-secret", defaultMode: 0o400 } },
      {
        name: "info",
        downwardAPI: {
          items: [
            { path: "labels", fieldRef: { fieldPath: "metadata.labels" } },
            { path: "cpu", resourceFieldRef: { containerName: "app", resource: "limits.cpu", divisor: "1m" } },
          ],
        },
      },
      {
        name: "all",
        projected: {
          sources: [
            { configMap: { name: "app-config", items: [{ key: "other", path: "other" }] } },
            { downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }] } },
          ],
        },
      },
      { name: "opt", configMap: { name: "not-there", optional: true } },
    ],
    containers: [{
      name: "app",
      image: "busybox:1.36",
      resources: { limits: { cpu: "250m" } },
      env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
      volumeMounts: [
        { name: "scratch", mountPath: "/scratch" },
        { name: "scratch", mountPath: "/cache", subPath: "cache" },
        { name: "host", mountPath: "/host" },
        { name: "config", mountPath: "/etc/app" },
        { name: "secret", mountPath: "/run/secret" },
        { name: "info", mountPath: "/info" },
        { name: "all", mountPath: "/all" },
        { name: "opt", mountPath: "/opt" },
      ],
    }],
  }, { labels: { app: "web" } });
  const uid = created.metadata.uid!;
  await h.waitFor("Ready", async () => isReady(await h.getPod("vols")));
  const volumes = `${h.dataDir}/pods/${uid}/volumes`;
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~configmap/config/conf/app.yaml`), "port: 80\n");
  assert.equal((await Deno.stat(`${volumes}/kubernetes.io~configmap/config/conf/app.yaml`)).mode! & 0o777, 0o600);
  assert.equal(await Deno.readLink(`${volumes}/kubernetes.io~configmap/config/conf`), "..data/conf");
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~secret/secret/password`), "s3cret");
  assert.equal((await Deno.stat(`${volumes}/kubernetes.io~secret/secret/password`)).mode! & 0o777, 0o400);
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~downward-api/info/labels`), 'app="web"');
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~downward-api/info/cpu`), "250");
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~projected/all/other`), "x");
  assert.equal(await Deno.readTextFile(`${volumes}/kubernetes.io~projected/all/name`), "vols");
  assert.equal((await Deno.stat(`${volumes}/kubernetes.io~empty-dir/scratch`)).mode! & 0o777, 0o777);
  assert.ok((await Deno.stat(`${volumes}/kubernetes.io~empty-dir/scratch/cache`)).isDirectory, "subPath created");
  assert.ok((await Deno.stat(hostDir)).isDirectory, "DirectoryOrCreate created the host directory");

  const spec = specs.at(-1)!;
  const mounts = Object.fromEntries((spec.mounts ?? []).map((m) => [m.destination, m]));
  assert.deepEqual(mounts["/scratch"], {
    source: `${volumes}/kubernetes.io~empty-dir/scratch`,
    destination: "/scratch",
  });
  assert.equal(mounts["/cache"]?.source, `${volumes}/kubernetes.io~empty-dir/scratch/cache`);
  assert.equal(mounts["/host"]?.source, hostDir);
  assert.equal(mounts["/etc/app"]?.readOnly, true);
  assert.equal(mounts["/run/secret"]?.readOnly, true);
  assert.equal(mounts["/etc/hosts"]?.source, `${h.dataDir}/pods/${uid}/etc-hosts`);
  assert.equal(mounts["/etc/resolv.conf"]?.source, `${h.dataDir}/pods/${uid}/resolv.conf`);
  assert.equal(mounts["/dev/termination-log"]?.source, `${h.dataDir}/pods/${uid}/containers/app/${uid}_app_0`);
  assert.match(await Deno.readTextFile(`${h.dataDir}/pods/${uid}/etc-hosts`), /\n10\.42\.0\.10\tvols\n/);
  assert.deepEqual(spec.env?.find((e) => e.name === "POD_IP"), { name: "POD_IP", value: "10.42.0.10" });
  assert.equal(spec.cpuLimitMillicores, 250);
  assert.equal(spec.networkNamespace, `${h.network.netnsDir}/fake-${uid.slice(0, 8)}`);

  await h.admin.kind("v1", "ConfigMap").patch("app-config", { data: { "app.yaml": "port: 8080\n" } }, {
    namespace: "default",
  });
  await h.advance(60_000, 5000);
  await h.waitFor(
    "the configMap volume to follow the change",
    async () => (await Deno.readTextFile(`${volumes}/kubernetes.io~configmap/config/conf/app.yaml`)) === "port: 8080\n",
  );
  await Deno.remove(`${h.dataDir}-host`, { recursive: true });
});

Deno.test("PodManager keeps a pod ContainerCreating with FailedMount events until its ConfigMap exists", async () => {
  await using h = await startHarness();
  await h.createPod("waits", {
    volumes: [{ name: "config", configMap: { name: "late" } }],
    containers: [{ name: "app", image: "busybox:1.36", volumeMounts: [{ name: "config", mountPath: "/etc/app" }] }],
  });
  const pending = await h.waitFor("a status", async () => {
    const p = await h.getPod("waits");
    return p?.status?.containerStatuses && p;
  });
  assert.equal(pending.status?.phase, "Pending");
  assert.deepEqual(pending.status?.containerStatuses?.[0]?.state, { waiting: { reason: "ContainerCreating" } });
  assert.ok(
    (await h.events("waits")).includes(
      'Warning FailedMount MountVolume.SetUp failed for volume "config" : configmap "late" not found',
    ),
  );
  assert.equal((await h.runtime.listContainers()).length, 0);
  await h.admin.kind("v1", "ConfigMap").create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "late", namespace: "default" },
    data: { k: "v" },
  });
  await h.advance(4000);
  await h.waitFor("Ready", async () => isReady(await h.getPod("waits")));
});

Deno.test("PodManager reports CreateContainerConfigError while an env var's Secret is missing", async () => {
  await using h = await startHarness();
  await h.createPod("cfg", {
    containers: [{
      name: "app",
      image: "busybox:1.36",
      env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "api", key: "token" } } }],
    }],
  });
  const pod = await h.waitFor("CreateContainerConfigError", async () => {
    const p = await h.getPod("cfg");
    return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CreateContainerConfigError" && p;
  });
  assert.equal(pod.status?.containerStatuses?.[0]?.state?.waiting?.message, 'secret "api" not found');
  await h.admin.kind("v1", "Secret").create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "api", namespace: "default" },
    data: { token: btoa("t") },
  });
  await h.advance(2000);
  await h.waitFor("Ready", async () => isReady(await h.getPod("cfg")));
});

Deno.test("PodManager adopts running containers after a restart: same ids, same restart counts, still Ready", async () => {
  await using h = await startHarness({ runtime: { exec: () => ({ exitCode: 0, stdout: "", stderr: "" }) } });
  await h.createPod("keep", {
    containers: [{
      name: "app",
      image: "busybox:1.36",
      readinessProbe: { exec: { command: ["ready"] }, periodSeconds: 5 },
    }],
  });
  await h.waitFor("started", async () => (await h.runtime.listContainers()).length === 1);
  await h.advance(1000);
  const before = await h.waitFor("Ready", async () => {
    const p = await h.getPod("keep");
    return isReady(p) && p;
  });
  const ids = (await h.runtime.listContainers()).map((c) => c.id);
  const readySince = condition(before, "Ready")?.lastTransitionTime;
  let sawUnready = false;
  await h.restart();
  for (let i = 0; i < 10; i++) {
    await h.advance(1000);
    if (!isReady(await h.getPod("keep"))) sawUnready = true;
  }
  assert.equal(sawUnready, false, "an agent restart does not make the pod unready");
  assert.deepEqual((await h.runtime.listContainers()).map((c) => c.id), ids);
  const after = await h.getPod("keep");
  assert.equal(after?.status?.containerStatuses?.[0]?.restartCount, 0);
  assert.equal(after?.status?.containerStatuses?.[0]?.containerID, before.status?.containerStatuses?.[0]?.containerID);
  assert.equal(condition(after, "Ready")?.lastTransitionTime, readySince);
  assert.deepEqual(
    h.network.calls.filter((c) => c.startsWith("setup")),
    ["setup keep"],
    "the running containers keep their sandbox: it is checked, not set up again",
  );
});

Deno.test("PodManager cleans up after pods deleted while it was down, and leaves the others running", async () => {
  await using h = await startHarness();
  const a = await h.createPod("a", { volumes: [{ name: "v", emptyDir: {} }] });
  await h.createPod("b", {});
  const c = await h.createPod("c", {});
  await h.waitFor("all Ready", async () => {
    for (const name of ["a", "b", "c"]) if (!isReady(await h.getPod(name))) return false;
    return true;
  });
  const bIds = (await h.runtime.listContainers()).filter((x) => x.labels["skiff.dev/pod-name"] === "b").map((x) =>
    x.id
  );
  await h.restart(async () => {
    await h.pods.delete("a", { namespace: "default", gracePeriodSeconds: 0 });
    await h.pods.delete("c", { namespace: "default", gracePeriodSeconds: 30 });
    await h.runtime.createContainer({
      id: "stray",
      image: "busybox",
      labels: containerLabels({
        podUid: "f00",
        podNamespace: "default",
        podName: "x",
        containerName: "y",
        restartCount: 0,
      }),
    });
    await h.runtime.startContainer("stray");
  });
  const names = async () => (await h.runtime.listContainers()).map((x) => x.labels["skiff.dev/pod-name"]).sort();
  assert.deepEqual(await names(), ["b", "c"], "a and the stray container are removed at start");
  assert.equal(h.network.sandboxes.has(a.metadata.uid!), false);
  await assert.rejects(Deno.stat(`${h.dataDir}/pods/${a.metadata.uid}`), Deno.errors.NotFound);
  await h.waitFor("c deleted from the API", async () => (await h.getPod("c")) === undefined);
  await h.waitFor("c's containers removed", async () => (await names()).join() === "b");
  assert.equal(h.network.sandboxes.has(c.metadata.uid!), false);
  assert.deepEqual((await h.runtime.listContainers()).map((x) => x.id), bIds);
});

Deno.test("PodManager collects containers of unknown pods periodically", async () => {
  await using h = await startHarness();
  await h.runtime.createContainer({
    id: "stray",
    image: "busybox",
    labels: containerLabels({
      podUid: "f00",
      podNamespace: "default",
      podName: "x",
      containerName: "y",
      restartCount: 0,
    }),
  });
  await h.runtime.createContainer({ id: "not-a-pod", image: "busybox", labels: { other: "1" } });
  await h.advance(60_000, 10_000);
  await h.waitFor("the stray container removed", async () => {
    const ids = (await h.runtime.listContainers()).map((c) => c.id);
    return ids.length === 1 && ids[0] === "not-a-pod";
  });
});

Deno.test("PodManager runs host-network pods without a sandbox, at the node's address", async () => {
  const specs: ContainerSpec[] = [];
  await using h = await startHarness({ runtime: { behavior: (spec) => void specs.push(spec) } });
  await h.createPod("host", {
    hostNetwork: true,
    containers: [{ name: "app", image: "busybox:1.36", ports: [{ containerPort: 9100, hostPort: 9100 }] }],
  });
  const pod = await h.waitFor("Ready", async () => {
    const p = await h.getPod("host");
    return isReady(p) && p;
  });
  assert.equal(pod.status?.podIP, HOST_IP);
  assert.equal(specs[0]?.hostNetwork, true);
  assert.equal(specs[0]?.networkNamespace, undefined);
  assert.deepEqual(h.network.calls.filter((c) => c.startsWith("setup")), []);
});

Deno.test("PodManager passes hostPorts to the pod network and requested devices to the container", async () => {
  const specs: ContainerSpec[] = [];
  await using h = await startHarness({
    runtime: { behavior: (spec) => void specs.push(spec) },
    manager: { devicePaths: (kind) => kind === "serial" ? ["/dev/ttyUSB0", "/dev/ttyUSB1"] : [] },
  });
  const created = await h.createPod("dev", {
    containers: [{
      name: "app",
      image: "busybox:1.36",
      ports: [{ containerPort: 80, hostPort: 8080 }],
      resources: { limits: { "devices.skiff.dev/serial": "1" } },
    }],
  });
  await h.waitFor("Ready", async () => isReady(await h.getPod("dev")));
  assert.deepEqual(specs[0]?.devices, ["/dev/ttyUSB0"]);
  assert.equal(specs[0]?.labels["skiff.dev/devices"], "/dev/ttyUSB0");
  assert.deepEqual(h.network.sandboxes.get(created.metadata.uid!)?.portMappings, [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
  ]);
});

Deno.test("PodManager fails a pod that runs past activeDeadlineSeconds", async () => {
  await using h = await startHarness();
  await h.createPod("deadline", { activeDeadlineSeconds: 30 });
  await h.waitFor("Ready", async () => isReady(await h.getPod("deadline")));
  await h.advance(30_000, 5000);
  const pod = await h.waitFor("Failed", async () => {
    const p = await h.getPod("deadline");
    return p?.status?.phase === "Failed" && p;
  });
  assert.equal(pod.status?.reason, "DeadlineExceeded");
  await h.waitFor("stopped", async () => (await h.runtime.listContainers({ states: ["running"] })).length === 0);
});

Deno.test("PodManager starts sidecar init containers first and keeps them running beside the containers", async () => {
  const started: string[] = [];
  await using h = await startHarness({
    runtime: {
      onStateChange: (c) => {
        if (c.state === "running") started.push(c.labels["skiff.dev/container-name"]!);
      },
    },
  });
  await h.createPod("side", {
    initContainers: [{ name: "proxy", image: "busybox:1.36", restartPolicy: "Always" }],
  });
  const pod = await h.waitFor("Ready", async () => {
    const p = await h.getPod("side");
    return isReady(p) && p;
  });
  assert.deepEqual(started, ["proxy", "app"]);
  assert.ok(pod.status?.initContainerStatuses?.[0]?.state?.running);
  assert.equal(pod.status?.phase, "Running");
});

Deno.test("PodManager.stats() gives each running container's CPU and memory, with a rate from the second call", async () => {
  await using h = await startHarness({ runtime: { usage: () => ({ cpuMillicores: 200, memoryBytes: 8 << 20 }) } });
  await h.createPod("busy", {});
  await h.waitFor("Ready", async () => isReady(await h.getPod("busy")));
  const first = await h.manager.stats();
  assert.equal(first.length, 1);
  assert.deepEqual([first[0]?.name, first[0]?.containers[0]?.name], ["busy", "app"]);
  assert.equal(first[0]?.containers[0]?.memoryWorkingSetBytes, 8 << 20);
  assert.equal(first[0]?.containers[0]?.cpuMillicores, undefined);
  await h.clock.advance(10_000);
  const second = await h.manager.stats();
  assert.equal(Math.round(second[0]?.containers[0]?.cpuMillicores ?? 0), 200);
  assert.equal(second[0]?.containers[0]?.windowMs, 10_000);
});

Deno.test({
  name: "PodManager mounts a claim's CSI volume through its plugin before the containers start and releases it after",
  ...requireTools(["mount", "umount"], { root: true }),
  // grpc-js leaves a reconnect timer behind a closed channel.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const specs: ContainerSpec[] = [];
    await using h = await startHarness({
      runtime: { behavior: (spec) => void specs.push(spec) },
      manager: { volumePlugins: undefined },
    });
    const csiData = `${h.dataDir}-csi`;
    const plugin = await runCsiLocal({
      endpoint: `unix://${h.dataDir}/plugins/csi-local/csi.sock`,
      dataDir: csiData,
      nodeId: NODE,
      log: () => {},
    });
    const client = new CsiClient(plugin.endpoint);
    try {
      const created = await client.createVolume({
        name: "pvc-data",
        capacityRange: { requiredBytes: 16 << 20 },
        volumeCapabilities: [{ mount: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } }],
      });
      const volumeHandle = created.volume!.volumeId!;
      const pod = await h.createPod("db", {
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
        containers: [{ name: "app", image: "busybox:1.36", volumeMounts: [{ name: "data", mountPath: "/data" }] }],
      });
      const uid = pod.metadata.uid!;
      await h.waitFor("FailedMount for the missing claim", async () =>
        (await h.events("db")).includes(
          'Warning FailedMount MountVolume.SetUp failed for volume "data" : persistentvolumeclaim "data" not found',
        ));
      await h.admin.kind("v1", "PersistentVolume").create({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "pv-data" },
        spec: {
          capacity: { storage: "16Mi" },
          accessModes: ["ReadWriteOnce"],
          csi: { driver: "local.csi.skiff.dev", volumeHandle },
        },
      });
      const claims = h.admin.kind("v1", "PersistentVolumeClaim");
      await claims.create({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", namespace: "default" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "16Mi" } }, volumeName: "pv-data" },
      });
      await claims.patch("data", { status: { phase: "Bound" } }, { namespace: "default", subresource: "status" });
      await h.advance(20_000, 2000);
      await h.waitFor("Ready", async () => isReady(await h.getPod("db")));
      const target = `${h.dataDir}/pods/${uid}/volumes/local.csi.skiff.dev/data`;
      assert.equal(specs[0]?.mounts?.find((m) => m.destination === "/data")?.source, target);
      assert.ok((await mountsUnder(target)).includes(target), "published before the container started");
      await Deno.writeTextFile(`${target}/hello`, "kept");

      await h.pods.delete("db", { namespace: "default", gracePeriodSeconds: 1 });
      await h.advance(5000);
      await h.waitFor("the pod gone", async () => (await h.getPod("db")) === undefined);
      await h.waitFor("the pod directory gone", async () => {
        try {
          await Deno.stat(`${h.dataDir}/pods/${uid}`);
          return false;
        } catch {
          return true;
        }
      });
      assert.deepEqual(await mountsUnder(`${h.dataDir}/pods`), []);
      const republished = await client.nodePublishVolume({
        volumeId: volumeHandle,
        targetPath: `${csiData}-check`,
        volumeCapability: { mount: {}, accessMode: { mode: "SINGLE_NODE_WRITER" } },
        readonly: true,
      });
      assert.ok(republished);
      assert.equal(await Deno.readTextFile(`${csiData}-check/hello`), "kept", "the data outlives the pod");
      await client.nodeUnpublishVolume({ volumeId: volumeHandle, targetPath: `${csiData}-check` });
    } finally {
      // Close every connection before the plugin goes away: Deno aborts when an HTTP/2
      // server sends GOAWAY to a client with streams it still tracks.
      await h.manager.stop();
      client.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await plugin.stop();
      await releaseCsiLocalMounts(csiData, { targetRoots: [`${h.dataDir}/pods`, `${csiData}-check`] });
      await Deno.remove(csiData, { recursive: true }).catch(() => {});
      await Deno.remove(`${csiData}-check`, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("PodManager starts the crash-loop back-off over after a container ran for 10 minutes", async () => {
  let run = 0;
  await using h = await startHarness({
    runtime: { behavior: () => ({ exitAfterMs: run++ === 3 ? 11 * 60_000 : 1000, exitCode: 1 }) },
  });
  const created = await h.createPod("flaky", {});
  const waitingMessage = async () =>
    (await h.getPod("flaky"))?.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "";
  await h.waitFor("the first run", () => run === 1);
  for (let i = 0; i < 60 && run < 4; i++) await h.advance(1000);
  assert.equal(run, 4, "three quick crashes");
  await h.advance(11 * 60_000, 10_000);
  await h.waitFor("the long run to crash and restart at once", () => run === 5);
  await h.advance(2000);
  assert.equal(
    await h.waitFor("CrashLoopBackOff", waitingMessage),
    `back-off 10s restarting failed container=app pod=flaky_default(${created.metadata.uid})`,
  );
});

Deno.test("PodManager reports FailedCreatePodSandBox while the pod network fails, and retries", async () => {
  const network = new FakePodNetwork();
  network.failSetup = () => "plugin bridge failed: no IP addresses available";
  await using h = await startHarness({ network });
  await h.createPod("nonet", {});
  await h.waitFor("FailedCreatePodSandBox", async () =>
    (await h.events("nonet")).includes(
      "Warning FailedCreatePodSandBox Failed to create pod sandbox: plugin bridge failed: no IP addresses available",
    ));
  assert.equal((await h.runtime.listContainers()).length, 0);
  network.failSetup = undefined;
  await h.advance(5000);
  await h.waitFor("Ready", async () => isReady(await h.getPod("nonet")));
});

Deno.test("PodManager keeps pod conditions that others set", async () => {
  await using h = await startHarness();
  await h.createPod("kept", {});
  await h.waitFor("Ready", async () => isReady(await h.getPod("kept")));
  await h.pods.patch("kept", {
    status: {
      conditions: [
        ...((await h.getPod("kept"))?.status?.conditions ?? []),
        { type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: "x" },
      ],
    },
  }, { namespace: "default", subresource: "status" });
  const [c] = await h.runtime.listContainers();
  h.runtime.exit(c!.id, 1);
  await h.advance(2000);
  const pod = await h.waitFor("restarted", async () => {
    const p = await h.getPod("kept");
    return p?.status?.containerStatuses?.[0]?.restartCount === 1 && p;
  });
  assert.equal(condition(pod, "DisruptionTarget")?.reason, "TerminationByKubelet");
});

Deno.test("PodManager re-creates a pod's sandbox whose network namespace vanished, restarting its containers", async () => {
  await using h = await startHarness();
  const created = await h.createPod("lost", {});
  await h.waitFor("Ready", async () => isReady(await h.getPod("lost")));
  await Deno.remove(h.network.sandboxes.get(created.metadata.uid!)!.netnsPath);
  await h.advance(60_000, 10_000);
  const pod = await h.waitFor("restarted in a new sandbox", async () => {
    const p = await h.getPod("lost");
    return p?.status?.containerStatuses?.[0]?.restartCount === 1 && isReady(p) && p;
  });
  assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 143);
  assert.deepEqual(h.network.calls.filter((c) => c.startsWith("setup")), ["setup lost", "setup lost"]);
  assert.ok(
    (await h.events("lost")).includes("Normal SandboxChanged Pod sandbox changed, it will be killed and re-created."),
  );
});

Deno.test("PodManager restarts a container whose image the pod update changed", async () => {
  await using h = await startHarness({ runtime: { images: ["busybox:1.36", "busybox:1.37"] } });
  await h.createPod("upgrade", {});
  await h.waitFor("Ready", async () => isReady(await h.getPod("upgrade")));
  const pod = (await h.getPod("upgrade"))!;
  await h.pods.patch("upgrade", {
    spec: { containers: [{ ...pod.spec!.containers[0]!, image: "busybox:1.37" }] },
  }, { namespace: "default", type: "strategic" });
  await h.advance(2000);
  const updated = await h.waitFor("the new image running", async () => {
    const p = await h.getPod("upgrade");
    const s = p?.status?.containerStatuses?.[0];
    return s?.image === "docker.io/library/busybox:1.37" && s.state?.running && p;
  });
  assert.equal(updated.status?.containerStatuses?.[0]?.restartCount, 1);
  assert.ok(
    (await h.events("upgrade")).includes("Normal Killing Container app definition changed, will be restarted"),
  );
});
