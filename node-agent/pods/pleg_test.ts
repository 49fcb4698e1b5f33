import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { type ContainerInfo, containerLabels, FakeRuntime } from "../runtime/mod.ts";
import { diff, Pleg, type PodLifecycleEvent } from "./pleg.ts";

function info(id: string, state: ContainerInfo["state"], podUid = "pod-a", name = "web"): ContainerInfo {
  return {
    id,
    image: "docker.io/library/busybox:latest",
    imageId: "sha256:1",
    labels: containerLabels({ podUid, podNamespace: "default", podName: "p", containerName: name, restartCount: 0 }),
    state,
    createdAt: 0,
    oomKilled: false,
  };
}

const event = (type: PodLifecycleEvent["type"], containerId: string, podUid = "pod-a", containerName = "web") => ({
  type,
  podUid,
  containerId,
  containerName,
});

Deno.test("diff() reports started, died, removed and changed containers", () => {
  assert.deepEqual(diff([], [info("c1", "running")]), [event("ContainerStarted", "c1")]);
  assert.deepEqual(diff([info("c1", "running")], [info("c1", "exited")]), [event("ContainerDied", "c1")]);
  assert.deepEqual(diff([info("c1", "exited")], []), [event("ContainerRemoved", "c1")]);
  assert.deepEqual(diff([info("c1", "running")], []), [event("ContainerDied", "c1"), event("ContainerRemoved", "c1")]);
  assert.deepEqual(diff([], [info("c1", "created")]), [event("ContainerChanged", "c1")]);
  assert.deepEqual(diff([info("c1", "created")], [info("c1", "running")]), [event("ContainerStarted", "c1")]);
});

Deno.test("diff() reports nothing for unchanged containers and ignores containers that are not a pod's", () => {
  assert.deepEqual(diff([info("c1", "running")], [info("c1", "running")]), []);
  const foreign = { ...info("x", "running"), labels: { app: "other" } };
  assert.deepEqual(diff([], [foreign]), []);
});

Deno.test("diff() orders events by pod uid, then container id", () => {
  const events = diff([], [info("b2", "running", "pod-b"), info("a2", "running", "pod-a"), info("a1", "exited")]);
  assert.deepEqual(events.map((e) => `${e.podUid}/${e.containerId}`), ["pod-a/a1", "pod-a/a2", "pod-b/b2"]);
});

Deno.test("Pleg relists every interval, keeps the list by pod, and tells listeners what changed", async () => {
  const clock = new ManualClock(0);
  const runtime = new FakeRuntime({ clock, images: ["busybox"] });
  const pleg = new Pleg({ runtime, clock, intervalMs: 1000 });
  const seen: PodLifecycleEvent[][] = [];
  pleg.subscribe((events) => seen.push(events));
  await pleg.start();
  try {
    const labels = containerLabels({
      podUid: "u1",
      podNamespace: "default",
      podName: "p",
      containerName: "web",
      restartCount: 0,
    });
    await runtime.createContainer({ id: "u1_web_0", image: "busybox", labels });
    await runtime.startContainer("u1_web_0");
    assert.deepEqual(pleg.podContainers("u1"), []);
    await clock.advance(1000);
    await pleg.newerThan(0);
    assert.deepEqual(pleg.podContainers("u1").map((c) => c.state), ["running"]);
    assert.deepEqual(pleg.podUids(), ["u1"]);
    assert.deepEqual(seen.flat().map((e) => e.type), ["ContainerStarted"]);

    runtime.exit("u1_web_0", 1);
    const mark = pleg.mark();
    await pleg.newerThan(mark);
    assert.deepEqual(pleg.podContainers("u1").map((c) => c.exitCode), [1]);
    assert.deepEqual(seen.flat().map((e) => e.type), ["ContainerStarted", "ContainerDied"]);
  } finally {
    pleg.stop();
  }
});

Deno.test("Pleg.newerThan() shares one list among callers waiting at once", async () => {
  let lists = 0;
  const runtime = new FakeRuntime();
  const counting = Object.assign(Object.create(runtime), {
    listContainers: () => {
      lists++;
      return runtime.listContainers();
    },
  });
  const pleg = new Pleg({ runtime: counting, clock: new ManualClock(0) });
  await pleg.start();
  pleg.stop();
  const mark = pleg.mark();
  await Promise.all([pleg.newerThan(mark), pleg.newerThan(mark), pleg.newerThan(mark)]);
  assert.equal(lists, 2);
});
