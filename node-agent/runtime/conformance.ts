/**
 * The runtime conformance suite: every {@linkcode Runtime} (the fake, and
 * containerd through `ctr`) must pass it unchanged. A harness gives a fresh
 * runtime and the commands that make a container of its test image run,
 * exit or print.
 *
 * @example
 * ```ts
 * runRuntimeConformance("fake", async () => ({
 *   runtime: new FakeRuntime({ behavior: shellBehavior }),
 *   image: "busybox",
 *   commands: { sleep: ["sleep", "3600"], exit: (n) => ["sh", "-c", `exit ${n}`], print: (t) => ["sh", "-c", `echo ${t}; sleep 3600`] },
 *   cleanup: async () => {},
 * }));
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  containerIdentity,
  containerLabels,
  ContainerNotFoundError,
  type ContainerSpec,
  ImagePullError,
  type Runtime,
} from "./runtime.ts";

/** A runtime under test. */
export interface RuntimeHarness {
  /** The runtime. */
  runtime: Runtime;
  /** An image the runtime can make present (pull or import). */
  image: string;
  /** A reference that is not present and must not be pulled. */
  absentImage?: string;
  /** Commands in `image`. */
  commands: {
    /** Runs until stopped. */
    sleep: string[];
    /** Exits at once with `code`. */
    exit: (code: number) => string[];
    /** Prints `text` and a newline, then runs until stopped. */
    print: (text: string) => string[];
  };
  /** Removes everything the harness made. */
  cleanup(): Promise<void>;
}

/** Makes a fresh harness. */
export type RuntimeFactory = () => Promise<RuntimeHarness>;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Registers the conformance tests for one runtime. */
export function runRuntimeConformance(name: string, factory: RuntimeFactory): void {
  let serial = 0;
  const test = (title: string, fn: (h: RuntimeHarness, dir: string) => Promise<void>) =>
    Deno.test(`${name} runtime: ${title}`, async () => {
      const h = await factory();
      const dir = await Deno.makeTempDir({ prefix: "skiff-runtime-" });
      try {
        await fn(h, dir);
      } finally {
        for (const c of await h.runtime.listContainers({ labels: { "skiff.dev/conformance": "true" } })) {
          await h.runtime.stopContainer(c.id, { gracePeriodSeconds: 0 });
          await h.runtime.removeContainer(c.id);
        }
        await h.cleanup();
        await Deno.remove(dir, { recursive: true });
      }
    });
  const spec = (h: RuntimeHarness, command: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
    id: `conformance-${Date.now().toString(36)}-${serial++}`,
    image: h.image,
    command,
    labels: {
      "skiff.dev/conformance": "true",
      ...containerLabels({
        podUid: "uid-1",
        podNamespace: "default",
        podName: "p",
        containerName: "c",
        restartCount: 0,
      }),
    },
    ...extra,
  });

  test("ensureImage() pulls once, then finds the image present", async (h) => {
    const first = await h.runtime.ensureImage(h.image);
    assert.match(first.id, /^sha256:[0-9a-f]{64}$/);
    const again = await h.runtime.ensureImage(h.image);
    assert.equal(again.pulled, false);
    assert.equal(again.id, first.id);
    assert.ok((await h.runtime.listImages()).some((i) => i.ref === first.ref));
  });

  test("ensureImage() with pull policy Never fails with ErrImageNeverPull for an absent image", async (h) => {
    const absent = h.absentImage ?? "registry.invalid/skiff/absent:1";
    await assert.rejects(
      h.runtime.ensureImage(absent, { pullPolicy: "Never" }),
      (err) => err instanceof ImagePullError && err.reason === "ErrImageNeverPull",
    );
  });

  test("a container is created, then running, and found again by its labels", async (h) => {
    await h.runtime.ensureImage(h.image);
    const created = await h.runtime.createContainer(spec(h, h.commands.sleep));
    assert.equal(created.state, "created");
    await h.runtime.startContainer(created.id);
    const running = await h.runtime.inspectContainer(created.id);
    assert.equal(running.state, "running");
    assert.ok(running.startedAt !== undefined && running.startedAt >= created.createdAt - 1000);
    const found = await h.runtime.listContainers({ labels: { "skiff.dev/pod-uid": "uid-1" }, states: ["running"] });
    assert.deepEqual(found.map((c) => c.id), [created.id]);
    assert.equal(containerIdentity(found[0]!.labels)?.containerName, "c");
    assert.deepEqual(await h.runtime.listContainers({ labels: { "skiff.dev/pod-uid": "other" } }), []);
  });

  test("stopContainer() ends a running container and removeContainer() deletes it", async (h) => {
    await h.runtime.ensureImage(h.image);
    const { id } = await h.runtime.createContainer(spec(h, h.commands.sleep));
    await h.runtime.startContainer(id);
    await assert.rejects(h.runtime.removeContainer(id));
    await h.runtime.stopContainer(id, { gracePeriodSeconds: 1 });
    const stopped = await h.runtime.inspectContainer(id);
    assert.equal(stopped.state, "exited");
    assert.ok(stopped.exitCode === 137 || stopped.exitCode === 143, `exit code ${stopped.exitCode}`);
    assert.ok(stopped.finishedAt !== undefined);
    await h.runtime.removeContainer(id);
    await assert.rejects(h.runtime.inspectContainer(id), ContainerNotFoundError);
    await h.runtime.removeContainer(id);
  });

  test("a container that exits reports its exit code and reason", async (h) => {
    await h.runtime.ensureImage(h.image);
    const failing = await h.runtime.createContainer(spec(h, h.commands.exit(3)));
    const ok = await h.runtime.createContainer(spec(h, h.commands.exit(0)));
    await h.runtime.startContainer(failing.id);
    await h.runtime.startContainer(ok.id);
    const failed = await eventually("the failing container to exit", async () => {
      const c = await h.runtime.inspectContainer(failing.id);
      return c.state === "exited" ? c : undefined;
    });
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.reason, "Error");
    assert.equal(failed.oomKilled, false);
    const completed = await eventually("the succeeding container to exit", async () => {
      const c = await h.runtime.inspectContainer(ok.id);
      return c.state === "exited" ? c : undefined;
    });
    assert.equal(completed.exitCode, 0);
    assert.equal(completed.reason, "Completed");
  });

  test("exec() returns the command's exit code and output", async (h) => {
    await h.runtime.ensureImage(h.image);
    const { id } = await h.runtime.createContainer(spec(h, h.commands.sleep));
    await h.runtime.startContainer(id);
    const echoed = await h.runtime.exec(id, ["echo", "ok"]);
    assert.deepEqual({ exitCode: echoed.exitCode, stdout: echoed.stdout }, { exitCode: 0, stdout: "ok\n" });
    assert.equal((await h.runtime.exec(id, ["sh", "-c", "exit 4"])).exitCode, 4);
  });

  test("a container's output lands in its log file and in logs()", async (h, dir) => {
    await h.runtime.ensureImage(h.image);
    const logPath = join(dir, "c.log");
    const { id } = await h.runtime.createContainer(spec(h, h.commands.print("hello-skiff"), { logPath }));
    await h.runtime.startContainer(id);
    const text = await eventually("the output", async () => {
      const logs = await h.runtime.logs(id);
      return logs.includes("hello-skiff") ? logs : undefined;
    });
    assert.equal(await h.runtime.logs(id, { tailLines: 1 }), "hello-skiff\n");
    assert.ok(text.endsWith("hello-skiff\n"));
    assert.match(await Deno.readTextFile(logPath), /hello-skiff/);
  });

  test("stats() reports CPU and memory of a running container", async (h) => {
    await h.runtime.ensureImage(h.image);
    const { id } = await h.runtime.createContainer(spec(h, h.commands.sleep));
    await h.runtime.startContainer(id);
    const stats = await h.runtime.stats(id);
    assert.ok(stats.cpuUsageNanoseconds >= 0);
    assert.ok(stats.memoryWorkingSetBytes > 0);
    assert.ok(stats.memoryUsageBytes >= stats.memoryWorkingSetBytes);
  });
}
