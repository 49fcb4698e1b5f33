import assert from "node:assert/strict";
import { ManualClock } from "@skiff/api";
import { runRuntimeConformance } from "./conformance.ts";
import { type ContainerBehavior, FakeRuntime } from "./fake_runtime.ts";
import { type ContainerInfo, type ContainerSpec, ImagePullError } from "./runtime.ts";

/** Reads the conformance commands as a shell would run them. */
function shellBehavior(spec: ContainerSpec): ContainerBehavior | undefined {
  const [program, flag, script] = spec.command ?? [];
  if (program !== "sh" || flag !== "-c" || script === undefined) return undefined;
  const exit = /^exit (\d+)$/.exec(script);
  if (exit) return { exitAfterMs: 0, exitCode: Number(exit[1]) };
  const echo = /^echo (\S+); sleep \d+$/.exec(script);
  return echo ? { output: `${echo[1]}\n` } : undefined;
}

runRuntimeConformance("fake", () =>
  Promise.resolve({
    runtime: new FakeRuntime({ behavior: shellBehavior }),
    image: "busybox",
    commands: {
      sleep: ["sleep", "3600"],
      exit: (code) => ["sh", "-c", `exit ${code}`],
      print: (text) => ["sh", "-c", `echo ${text}; sleep 3600`],
    },
    cleanup: () => Promise.resolve(),
  }));

const spec = (id: string, image = "busybox"): ContainerSpec => ({ id, image, labels: {} });

Deno.test("FakeRuntime.ensureImage() takes the configured pull delay on the injected clock", async () => {
  const clock = new ManualClock();
  const runtime = new FakeRuntime({ clock, pullDelayMs: 2000 });
  let done = false;
  const pull = runtime.ensureImage("busybox:1.36").then((image) => {
    done = true;
    return image;
  });
  await clock.advance(1999);
  assert.equal(done, false);
  await clock.advance(1);
  const image = await pull;
  assert.equal(image.ref, "docker.io/library/busybox:1.36");
  assert.equal(image.pulled, true);
});

Deno.test("FakeRuntime.ensureImage() fails with ErrImagePull when the pull error knob says so", async () => {
  const runtime = new FakeRuntime({ pullError: (ref) => ref.includes("missing") ? "manifest unknown" : undefined });
  await assert.rejects(
    runtime.ensureImage("missing:1"),
    (err) =>
      err instanceof ImagePullError && err.reason === "ErrImagePull" &&
      err.message === 'Cannot pull image "missing:1": manifest unknown',
  );
  assert.equal((await runtime.ensureImage("present:1")).pulled, true);
});

Deno.test("FakeRuntime.ensureImage() with pull policy Always pulls a present image again", async () => {
  const runtime = new FakeRuntime({ images: ["busybox"] });
  assert.equal((await runtime.ensureImage("busybox")).pulled, false);
  assert.equal((await runtime.ensureImage("busybox", { pullPolicy: "Always" })).pulled, true);
});

Deno.test("FakeRuntime runs a container that exits with code N after T", async () => {
  const clock = new ManualClock();
  const changes: ContainerInfo[] = [];
  const runtime = new FakeRuntime({
    clock,
    images: ["busybox"],
    behavior: () => ({ exitAfterMs: 5000, exitCode: 2 }),
    onStateChange: (c) => changes.push(c),
  });
  await runtime.createContainer(spec("c1"));
  await runtime.startContainer("c1");
  await clock.advance(4999);
  assert.equal((await runtime.inspectContainer("c1")).state, "running");
  await clock.advance(1);
  const exited = await runtime.inspectContainer("c1");
  assert.deepEqual([exited.state, exited.exitCode, exited.reason], ["exited", 2, "Error"]);
  assert.equal(exited.finishedAt! - exited.startedAt!, 5000);
  assert.deepEqual(changes.map((c) => c.state), ["running", "exited"]);
});

Deno.test("FakeRuntime OOM-kills a container with exit code 137 and the OOMKilled reason", async () => {
  const clock = new ManualClock();
  const runtime = new FakeRuntime({ clock, images: ["busybox"], behavior: () => ({ oomAfterMs: 100 }) });
  await runtime.createContainer(spec("hog"));
  await runtime.startContainer("hog");
  await clock.advance(100);
  const hog = await runtime.inspectContainer("hog");
  assert.deepEqual([hog.exitCode, hog.reason, hog.oomKilled], [137, "OOMKilled", true]);
});

Deno.test("FakeRuntime.stopContainer() waits out the grace period of a container ignoring SIGTERM", async () => {
  const clock = new ManualClock();
  const runtime = new FakeRuntime({ clock, images: ["busybox"], behavior: () => ({ ignoreSigterm: true }) });
  await runtime.createContainer(spec("stubborn"));
  await runtime.startContainer("stubborn");
  let stopped = false;
  const stop = runtime.stopContainer("stubborn", { gracePeriodSeconds: 10 }).then(() => stopped = true);
  await clock.advance(9999);
  assert.equal(stopped, false);
  await clock.advance(1);
  await stop;
  assert.equal((await runtime.inspectContainer("stubborn")).exitCode, 137);
});

Deno.test("FakeRuntime.exit() ends a container as told and refuses one that is not running", async () => {
  const runtime = new FakeRuntime({ images: ["busybox"] });
  await runtime.createContainer(spec("c"));
  assert.throws(() => runtime.exit("c", 1), /it is created/);
  await runtime.startContainer("c");
  runtime.exit("c", 137, { oomKilled: true });
  assert.equal((await runtime.inspectContainer("c")).reason, "OOMKilled");
});

Deno.test("FakeRuntime.createContainer() refuses an absent image and a duplicate id", async () => {
  const runtime = new FakeRuntime({ images: ["busybox"] });
  await assert.rejects(
    runtime.createContainer(spec("c", "nginx")),
    /image "docker.io\/library\/nginx:latest" is not present/,
  );
  await runtime.createContainer(spec("c"));
  await assert.rejects(runtime.createContainer(spec("c")), /a container with that id exists/);
  await assert.rejects(runtime.startContainer("missing"), /Container "missing" does not exist/);
});

Deno.test("FakeRuntime.stats() counts CPU time since start at the configured rate", async () => {
  const clock = new ManualClock();
  const runtime = new FakeRuntime({
    clock,
    images: ["busybox"],
    usage: () => ({ cpuMillicores: 250, memoryBytes: 10_000_000 }),
  });
  await runtime.createContainer(spec("c"));
  await runtime.startContainer("c");
  await clock.advance(2000);
  const stats = await runtime.stats("c");
  assert.equal(stats.cpuUsageNanoseconds, 500_000_000);
  assert.equal(stats.memoryWorkingSetBytes, 10_000_000);
});
