import assert from "node:assert/strict";
import { join } from "node:path";
import { buildBusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { createTempDir, removeTree, requireTools, startContainerd, uniqueName } from "../../test/support/mod.ts";
import { type Exec, run } from "../_exec.ts";
import { ensureContainerd } from "./containerd_daemon.ts";
import { cgroupMetrics, ContainerdRuntime } from "./containerd_runtime.ts";
import { readContainerLog } from "./container_log.ts";
import { startTestRegistry } from "./_test_registry.ts";
import { dispose, eventually, exited, newRuntime, removeRuncLeftovers } from "./_test_support.ts";
import { type ContainerSpec, ImagePullError } from "./runtime.ts";

const needs = requireTools(["containerd", "ctr", "runc", "mount", "umount", "mkfifo", "tar", "ip"], { root: true });

const spec = (id: string, command: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  id,
  image: "busybox",
  command,
  labels: { "skiff.dev/test": "true" },
  ...extra,
});

Deno.test({
  name: "ContainerdRuntime runs real containers through ctr",
  ...needs,
  fn: async (t) => {
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-rt-data-" });
    const { runtime, stateDir, errors } = await newRuntime(containerd, image, {
      logRotation: { maxBytes: 4096, maxFiles: 3 },
    });
    try {
      await t.step("version() names containerd and its version", async () => {
        const version = await runtime.version();
        assert.equal(version.name, "containerd");
        assert.match(version.version, /^\d+\.\d+/);
      });

      await t.step("a memory hog is reported OOMKilled with exit code 137", async () => {
        await runtime.createContainer(
          spec("oom", ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' x); echo survived"], {
            memoryLimitBytes: 16 * 1024 * 1024,
          }),
        );
        await runtime.startContainer("oom");
        const info = await exited(runtime, "oom");
        assert.deepEqual([info.exitCode, info.reason, info.oomKilled], [137, "OOMKilled", true]);
        assert.ok(info.finishedAt! >= info.startedAt!);
      });

      await t.step("stopContainer() kills a shell that ignores SIGTERM after the grace period", async () => {
        await runtime.createContainer(spec("stubborn", ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]));
        await runtime.startContainer("stubborn");
        const started = Date.now();
        await runtime.stopContainer("stubborn", { gracePeriodSeconds: 1 });
        const elapsed = Date.now() - started;
        const info = await runtime.inspectContainer("stubborn");
        assert.deepEqual([info.state, info.exitCode, info.reason], ["exited", 137, "Error"]);
        assert.ok(elapsed >= 1000 && elapsed < 8000, `stopped after ${elapsed} ms`);
      });

      await t.step("a container that handles SIGTERM exits with its own code within the grace period", async () => {
        await runtime.createContainer(
          spec("polite", ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/trapped; while true; do sleep 0.1; done"]),
        );
        await runtime.startContainer("polite");
        // A SIGTERM before the trap is set would be ignored (PID 1): stop only once the shell has set it.
        await eventually("the trap to be set", async () => {
          return (await runtime.exec("polite", ["test", "-e", "/tmp/trapped"])).exitCode === 0 || undefined;
        });
        const started = Date.now();
        await runtime.stopContainer("polite", { gracePeriodSeconds: 10 });
        const info = await runtime.inspectContainer("polite");
        assert.deepEqual([info.exitCode, info.reason], [0, "Completed"]);
        assert.ok(Date.now() - started < 5000);
      });

      await t.step("env, working dir, user, group, mounts and a read-only root reach the process", async () => {
        const rw = join(tmp.path, "rw");
        const ro = join(tmp.path, "ro");
        await Deno.mkdir(rw);
        await Deno.mkdir(ro);
        await Deno.chmod(rw, 0o777);
        await Deno.writeTextFile(join(ro, "in.txt"), "from-host\n");
        const logPath = join(tmp.path, "logs", "env.log");
        await runtime.createContainer(
          spec("env", [
            "sh",
            "-c",
            'echo "FOO=$FOO"; pwd; id -u; id -g; cat /in/in.txt; echo written > /out/out.txt; ' +
            "touch /root-write 2>/dev/null && echo root-writable || echo root-read-only; " +
            "touch /in/x 2>/dev/null && echo in-writable || echo in-read-only",
          ], {
            env: [{ name: "FOO", value: "bar baz" }],
            workingDir: "/tmp",
            user: 1000,
            group: 2000,
            readOnlyRootFilesystem: true,
            mounts: [{ source: rw, destination: "/out" }, { source: ro, destination: "/in", readOnly: true }],
            logPath,
          }),
        );
        await runtime.startContainer("env");
        const info = await exited(runtime, "env");
        assert.equal(info.exitCode, 0);
        assert.equal(
          await runtime.logs("env"),
          "FOO=bar baz\n/tmp\n1000\n2000\nfrom-host\nroot-read-only\nin-read-only\n",
        );
        assert.equal(await Deno.readTextFile(join(rw, "out.txt")), "written\n");
      });

      await t.step("a container joins the given network namespace, or the host's", async () => {
        const netns = uniqueName("skiff-rtns");
        await run(["ip", "netns", "add", netns]);
        try {
          const inode = (await Deno.stat(`/run/netns/${netns}`)).ino;
          const hostInode = (await Deno.stat("/proc/self/ns/net")).ino;
          const logs = join(tmp.path, "logs");
          await runtime.createContainer(
            spec("in-netns", ["readlink", "/proc/self/ns/net"], {
              networkNamespace: `/run/netns/${netns}`,
              logPath: join(logs, "in-netns.log"),
            }),
          );
          await runtime.createContainer(
            spec("host-net", ["readlink", "/proc/self/ns/net"], { hostNetwork: true, logPath: join(logs, "host.log") }),
          );
          await Promise.all([runtime.startContainer("in-netns"), runtime.startContainer("host-net")]);
          await Promise.all([exited(runtime, "in-netns"), exited(runtime, "host-net")]);
          assert.equal(await runtime.logs("in-netns"), `net:[${inode}]\n`);
          assert.equal(await runtime.logs("host-net"), `net:[${hostInode}]\n`);
        } finally {
          for (const id of ["in-netns", "host-net"]) await runtime.removeContainer(id);
          await run(["ip", "netns", "delete", netns]);
        }
      });

      await t.step("exec() returns exit codes, output and stdin, and kills a command past its timeout", async () => {
        await runtime.createContainer(spec("exec", ["sleep", "3600"]));
        await runtime.startContainer("exec");
        const [echo, fail, cat, missing, envd] = await Promise.all([
          runtime.exec("exec", ["sh", "-c", "echo out; echo err >&2"]),
          runtime.exec("exec", ["sh", "-c", "exit 4"]),
          runtime.exec("exec", ["cat"], { stdin: "from stdin\n" }),
          runtime.exec("exec", ["no-such-program"]),
          runtime.exec("exec", ["sh", "-c", 'echo "$EXTRA"'], { env: [{ name: "EXTRA", value: "yes" }] }),
        ]);
        assert.deepEqual(echo, { exitCode: 0, stdout: "out\n", stderr: "err\n", timedOut: false });
        assert.equal(fail.exitCode, 4);
        assert.equal(cat.stdout, "from stdin\n");
        assert.equal(missing.exitCode, 127);
        assert.match(missing.stderr, /not found/);
        assert.equal(envd.stdout, "yes\n");
        const started = Date.now();
        const slow = await runtime.exec("exec", ["sleep", "30"], { timeoutMs: 500 });
        assert.deepEqual([slow.exitCode, slow.timedOut], [137, true]);
        assert.ok(Date.now() - started < 5000);
        const ps = await runtime.exec("exec", ["ps"]);
        assert.doesNotMatch(ps.stdout, /sleep 30/);
        await runtime.stopContainer("exec", { gracePeriodSeconds: 0 });
        await assert.rejects(runtime.exec("exec", ["true"]), /it is exited, not running/);
      });

      await t.step("logs carry timestamps, rotate at their size bound and read back across files", async () => {
        const logPath = join(tmp.path, "logs", "chatty.log");
        await runtime.createContainer(
          spec("chatty", ["sh", "-c", 'i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done'], {
            logPath,
          }),
        );
        await runtime.startContainer("chatty");
        await exited(runtime, "chatty");
        const all = await runtime.logs("chatty");
        const expected = Array.from({ length: 200 }, (_, i) => `line ${i}\n`);
        assert.equal(all, expected.join(""));
        assert.equal(await runtime.logs("chatty", { tailLines: 3 }), expected.slice(-3).join(""));
        const files = [...Deno.readDirSync(join(tmp.path, "logs"))].map((e) => e.name).filter((n) =>
          n.startsWith("chatty.log")
        );
        assert.deepEqual(files.sort(), ["chatty.log", "chatty.log.1", "chatty.log.2"]);
        for (const f of files) assert.ok(Deno.statSync(join(tmp.path, "logs", f)).size <= 4096);
        const stamped = await runtime.logs("chatty", { tailLines: 1, timestamps: true });
        assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 199\n$/);
      });

      await t.step("followLogs() streams output as it is written until the container exits", async () => {
        await runtime.createContainer(
          spec("follow", ["sh", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done"], {
            logPath: join(tmp.path, "logs", "follow.log"),
          }),
        );
        await runtime.startContainer("follow");
        const chunks: string[] = [];
        for await (const chunk of runtime.followLogs("follow")) chunks.push(chunk);
        assert.equal(chunks.join(""), "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n");
        assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
      });

      await t.step("stats() reports CPU time and memory of a running container", async () => {
        await runtime.createContainer(spec("busy", ["sh", "-c", "while true; do :; done"]));
        await runtime.startContainer("busy");
        const first = await runtime.stats("busy");
        await new Promise((resolve) => setTimeout(resolve, 300));
        const second = await runtime.stats("busy");
        assert.ok(second.cpuUsageNanoseconds > first.cpuUsageNanoseconds);
        assert.ok(second.memoryWorkingSetBytes > 0);
        assert.ok(second.memoryUsageBytes >= second.memoryWorkingSetBytes);
        const cgroupsPath = `/${runtime.namespace}/busy`;
        assert.ok(await cgroupMetrics(cgroupsPath), `stats come from the cgroup files of ${cgroupsPath}`);
        await runtime.stopContainer("busy", { gracePeriodSeconds: 0 });
        await assert.rejects(runtime.stats("busy"), /it is exited, not running/);
      });

      await t.step("removeContainer() removes the snapshot and the rootfs mount, and is idempotent", async () => {
        await runtime.createContainer(spec("gone", ["true"]));
        const rootfs = join(stateDir, "rootfs", "gone");
        assert.match(await Deno.readTextFile("/proc/self/mountinfo"), new RegExp(` ${rootfs} `));
        await runtime.removeContainer("gone");
        await runtime.removeContainer("gone");
        assert.doesNotMatch(await Deno.readTextFile("/proc/self/mountinfo"), new RegExp(` ${rootfs} `));
        const snapshots = await containerd.ctr(["snapshots", "ls"], { namespace: runtime.namespace });
        assert.doesNotMatch(snapshots.stdout, /^gone\s/m);
        await assert.rejects(runtime.inspectContainer("gone"), /does not exist/);
      });

      await t.step("createContainer() refuses a tty, a bad id and an absent image with clear errors", async () => {
        await assert.rejects(runtime.createContainer(spec("tty", ["sh"], { tty: true })), /tty is not supported/);
        await assert.rejects(runtime.createContainer(spec("a/b", ["true"])), /the id must be/);
        await assert.rejects(
          runtime.createContainer(spec("absent", ["true"], { image: "example.com/absent:1" })),
          /image "example.com\/absent:1" is not present/,
        );
      });

      await t.step("listContainers() is served from the event stream, without a ctr call each time", async () => {
        let calls = 0;
        const counting: Exec = (cmd, options) => {
          if (cmd[0] === "ctr") calls++;
          return run(cmd, options);
        };
        const other = new ContainerdRuntime({
          address: containerd.address,
          namespace: runtime.namespace,
          stateDir,
          exec: counting,
        });
        try {
          await other.listContainers();
          const before = calls;
          for (let i = 0; i < 10; i++) await other.listContainers({ states: ["running"] });
          assert.equal(calls - before, 0);
        } finally {
          await other.close();
        }
      });
      await t.step("listImages() and ensureImage() reuse one listing until an image event comes", async () => {
        let listings = 0;
        const counting: Exec = (cmd, options) => {
          if (cmd[0] === "ctr" && cmd.includes("images") && cmd.includes("ls")) listings++;
          return run(cmd, options);
        };
        const other = new ContainerdRuntime({
          address: containerd.address,
          namespace: runtime.namespace,
          stateDir,
          exec: counting,
        });
        const refs = async () => (await other.listImages()).map((i) => i.ref);
        try {
          await other.listContainers();
          await other.listImages();
          const before = listings;
          for (let i = 0; i < 5; i++) {
            await other.listImages();
            assert.equal((await other.ensureImage("busybox", { pullPolicy: "IfNotPresent" })).pulled, false);
          }
          assert.equal(listings - before, 0);
          const tagged = "docker.io/library/busybox-tagged:1";
          await containerd.ctr(["images", "tag", image.ref, tagged], { namespace: runtime.namespace });
          await eventually("the tagged image in the listing", async () => (await refs()).includes(tagged) || undefined);
          await other.removeImage(tagged);
          assert.equal((await refs()).includes(tagged), false);
        } finally {
          await other.close();
        }
      });
      assert.deepEqual(errors, []);
    } finally {
      await dispose(runtime, stateDir);
    }
  },
});

Deno.test({
  name: "ContainerdRuntime after an agent restart adopts running containers and learns exits it missed",
  ...needs,
  fn: async () => {
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-rt-restart-" });
    const { runtime: first, stateDir, namespace } = await newRuntime(containerd, image);
    let second: ContainerdRuntime | undefined;
    try {
      const log = (name: string) => join(tmp.path, `${name}.log`);
      await first.createContainer(
        spec("keeps-running", ["sh", "-c", "i=0; while true; do echo beat $i; i=$((i+1)); sleep 0.2; done"], {
          logPath: log("keeps-running"),
        }),
      );
      await first.createContainer(spec("exits-later", ["sh", "-c", "sleep 1; exit 7"], { logPath: log("exits") }));
      await first.createContainer(spec("never-started", ["true"]));
      await first.startContainer("keeps-running");
      await first.startContainer("exits-later");
      const before = await first.inspectContainer("keeps-running");
      await first.close();

      // While no runtime runs, "exits-later" exits: wait for containerd to say so (not for a fixed time).
      await eventually("containerd to see exits-later stopped", async () => {
        const tasks = await run(["ctr", "-a", containerd.address, "-n", namespace, "tasks", "ls"]);
        return /^exits-later\s+\d+\s+STOPPED/m.test(tasks.stdout) || undefined;
      }, 30_000);
      const restartedAt = Date.now();
      second = new ContainerdRuntime({ address: containerd.address, namespace, stateDir });
      const all = await second.listContainers();
      const byId = new Map(all.map((c) => [c.id, c]));
      const running = byId.get("keeps-running")!;
      assert.equal(running.state, "running");
      assert.equal(running.pid, before.pid);
      assert.equal(running.startedAt, before.startedAt);
      assert.deepEqual(running.labels, before.labels);
      const missed = byId.get("exits-later")!;
      assert.deepEqual([missed.state, missed.exitCode, missed.reason], ["exited", 7, "Error"]);
      assert.ok(missed.finishedAt! < restartedAt, "the exit time is when it exited, not when it was noticed");
      assert.ok(missed.finishedAt! - missed.startedAt! >= 900);
      assert.equal(byId.get("never-started")?.state, "created");

      const beats = (text: string) => text.split("\n").filter(Boolean).map((l) => Number(l.split(" ")[1]));
      const atRestart = beats(await readContainerLog(log("keeps-running"))).length;
      const seen = await eventually("output written after the restart", async () => {
        const numbers = beats(await second!.logs("keeps-running"));
        return numbers.length >= atRestart + 5 ? numbers : undefined;
      });
      assert.deepEqual(seen, seen.map((_, i) => i), "no beat lost or repeated across the restart");
    } finally {
      await dispose(second ?? first, stateDir);
    }
  },
});

Deno.test({
  name: "ContainerdRuntime survives a containerd restart and records an exit that happened while containerd was down",
  ...needs,
  fn: async () => {
    const image = await buildBusyboxImage();
    await using tmp = await createTempDir({ prefix: "skiff-rt-ctd-" });
    const dataDir = tmp.join("data");
    const noDefault = tmp.join("none.sock");
    let daemon = await ensureContainerd({ dataDir, address: noDefault });
    const namespace = uniqueName("skiff-rr");
    await run(["ctr", "-a", daemon.address, "-n", namespace, "images", "import", image.path]);
    const stateDir = tmp.join("state");
    const errors: Error[] = [];
    const runtime = new ContainerdRuntime({
      address: daemon.address,
      namespace,
      stateDir,
      onError: (e) => errors.push(e),
    });
    try {
      await runtime.createContainer(spec("survivor", ["sleep", "3600"]));
      await runtime.createContainer(spec("short", ["sh", "-c", "sleep 1; exit 5"]));
      await runtime.startContainer("survivor");
      await runtime.startContainer("short");
      const before = await runtime.inspectContainer("survivor");
      await daemon.stop();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      daemon = await ensureContainerd({ dataDir, address: noDefault });
      assert.equal(daemon.ownProcess, true);

      const reported = () => `; the runtime reported: ${errors.map((e) => e.message).join(" | ") || "nothing"}`;
      // A loaded machine may take a while to bring containerd and the event stream back: no timing luck needed.
      const short = await exited(runtime, "short", 60_000).catch((error) => {
        throw new Error(`${error.message}${reported()}`);
      });
      assert.deepEqual([short.exitCode, short.reason], [5, "Error"], `the exit of "short"${reported()}`);
      const survivor = await runtime.inspectContainer("survivor");
      assert.deepEqual([survivor.state, survivor.pid], ["running", before.pid], `"survivor"${reported()}`);
      await eventually(
        "the broken event stream to be reported",
        () => Promise.resolve(errors.some((e) => /event stream ended/.test(e.message)) || undefined),
      );
    } finally {
      try {
        for (const c of await runtime.listContainers()) {
          await runtime.stopContainer(c.id, { gracePeriodSeconds: 0 });
          await runtime.removeContainer(c.id);
        }
        await runtime.close();
        await run(["ctr", "-a", daemon.address, "-n", namespace, "images", "rm", "--sync", image.ref], {
          check: false,
        });
        await run(["ctr", "-a", daemon.address, "namespaces", "rm", namespace], { check: false });
      } finally {
        await daemon.stop();
        await removeRuncLeftovers(namespace);
      }
    }
  },
});

Deno.test({
  name: "ContainerdRuntime.ensureImage() pulls from a registry with progress and honours the pull policy",
  ...needs,
  fn: async () => {
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd();
    await using registry = await startTestRegistry(image.path, { repository: "skiff/busybox" });
    const namespace = uniqueName("skiff-pull");
    const stateDir = await Deno.makeTempDir({ prefix: "skiff-rt-" });
    const runtime = new ContainerdRuntime({ address: containerd.address, namespace, stateDir });
    try {
      const ref = `${registry.host}/skiff/busybox`;
      await assert.rejects(
        runtime.ensureImage(ref, { pullPolicy: "Never" }),
        (e) => e instanceof ImagePullError && e.reason === "ErrImageNeverPull",
      );
      const progress: { ref: string; doneBytes: number; totalBytes?: number }[] = [];
      const pulled = await runtime.ensureImage(ref, { onProgress: (p) => progress.push(p) });
      assert.equal(pulled.ref, `${ref}:latest`);
      assert.equal(pulled.pulled, true);
      assert.equal(pulled.id, `sha256:${image.manifestDigest.replace("sha256:", "")}`);
      assert.ok(pulled.sizeBytes > 1_000_000);
      assert.equal(pulled.architecture, image.arch);
      assert.ok(progress.length >= 2, `${progress.length} progress reports`);
      assert.deepEqual(progress.at(-1), { ref: pulled.ref, doneBytes: pulled.sizeBytes, totalBytes: pulled.sizeBytes });
      assert.ok(progress.some((p) => p.doneBytes < pulled.sizeBytes));

      const again = await runtime.ensureImage(ref);
      assert.equal(again.pulled, false);
      const requests = registry.requests.length;
      assert.equal((await runtime.ensureImage(ref, { pullPolicy: "Always" })).pulled, true);
      assert.ok(registry.requests.length > requests, "Always asks the registry again");

      await assert.rejects(
        runtime.ensureImage(`${registry.host}/skiff/busybox:missing`),
        (e) =>
          e instanceof ImagePullError && e.reason === "ErrImagePull" && /not found/.test(e.message) &&
          e.message.startsWith(`Cannot pull image "${registry.host}/skiff/busybox:missing": `),
      );
      assert.ok((await runtime.listImages()).some((i) => i.ref === `${ref}:latest`));
      await runtime.removeImage(ref);
      await runtime.removeImage(ref);
      assert.ok(!(await runtime.listImages()).some((i) => i.ref === `${ref}:latest`));
    } finally {
      await runtime.close();
      await removeTree(stateDir);
    }
  },
});
