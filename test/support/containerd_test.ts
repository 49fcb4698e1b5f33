import assert from "node:assert/strict";
import { buildBusyboxImage } from "../fixtures/build_busybox.ts";
import { startContainerd } from "./containerd.ts";
import { requireTools } from "./requirements.ts";

const needs = requireTools(["containerd", "ctr", "runc", "tar"], {
  root: true,
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text)) pids.push(Number(entry.name));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

Deno.test({
  name: "startContainerd() runs a private containerd that runs the busybox image and stop() leaves nothing behind",
  ...needs,
  fn: async (t) => {
    const image = await buildBusyboxImage();
    const containerd = await startContainerd();
    const { address, dir, namespace, pid } = containerd;
    try {
      await t.step("answers on a socket inside its own directory", async () => {
        assert.ok(address.startsWith(`${dir}/`));
        const version = await containerd.ctr(["version"]);
        assert.match(version.stdout, /Server:/);
      });

      await t.step(
        "imports the busybox fixture under its full name and runs busybox echo hello",
        async () => {
          await containerd.ctr(["images", "import", image.path]);
          const images = await containerd.ctr(["images", "ls", "-q"]);
          assert.deepEqual(images.stdout.trim().split("\n"), [image.ref]);
          const hello = await containerd.ctr([
            "run",
            "--rm",
            image.ref,
            "hello",
            "busybox",
            "echo",
            "hello",
          ]);
          assert.equal(hello.stdout, "hello\n");
          const passwd = await containerd.ctr([
            "run",
            "--rm",
            image.ref,
            "passwd",
            "cat",
            "/etc/passwd",
          ]);
          assert.match(passwd.stdout, /^root:x:0:0:/m);
          assert.match(passwd.stdout, /^nobody:x:65534:65534:/m);
        },
      );

      await t.step("stop() kills a running task and removes everything", async () => {
        await containerd.ctr([
          "run",
          "-d",
          "--null-io",
          image.ref,
          "sleeper",
          "sleep",
          "300",
        ]);
        const tasks = await containerd.ctr(["tasks", "ls", "-q"]);
        assert.equal(tasks.stdout.trim(), "sleeper");
        assert.ok(await exists(`/run/containerd/runc/${namespace}/sleeper`));

        await containerd.stop();

        assert.equal(await exists(dir), false, "the directory is removed");
        assert.equal(await exists(`/proc/${pid}`), false, "containerd exited");
        assert.equal(
          await exists(`/run/containerd/runc/${namespace}/sleeper`),
          false,
          "runc state of the task is removed",
        );
        assert.equal(
          await exists(`/run/containerd/runc/${namespace}`),
          false,
          "the namespace's runc directory is removed",
        );
        assert.equal(
          await exists(`/sys/fs/cgroup/memory/${namespace}`),
          false,
          "the namespace's cgroup is removed",
        );
        assert.deepEqual(
          await processesMentioning(address),
          [],
          "no shim is left",
        );
      });

      await t.step("stop() is safe to call twice", async () => {
        await containerd.stop();
      });
    } finally {
      await containerd.stop();
    }
  },
});

Deno.test({
  name: "startContainerd() in a given directory creates it and removes it on stop()",
  ...needs,
  fn: async () => {
    const parent = await Deno.makeTempDir({ prefix: "skiff-ctd-parent-" });
    try {
      const dir = `${parent}/c`;
      {
        await using containerd = await startContainerd({ dir });
        assert.equal(containerd.dir, dir);
        assert.equal(containerd.address, `${dir}/containerd.sock`);
        assert.ok(await exists(`${dir}/root`));
      }
      assert.equal(await exists(dir), false);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  },
});

Deno.test("startContainerd() refuses a directory too long for its sockets", async () => {
  const dir = `/tmp/${"x".repeat(100)}`;
  await assert.rejects(
    () => startContainerd({ dir }),
    new RangeError(
      `Invalid option "dir": socket path "${dir}/containerd.sock.ttrpc" is longer than the 107 bytes a unix socket path allows`,
    ),
  );
  assert.equal(await exists(dir), false);
});
