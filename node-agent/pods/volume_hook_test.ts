import assert from "node:assert/strict";
import { join } from "node:path";
import type { Pod } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { requireTools } from "../../test/support/mod.ts";
import { mountsUnder } from "./_mounts.ts";
import { ObjectReader } from "./_objects.ts";
import { checkHostPath, staticVolumePlugins, VolumeHook } from "./volume_hook.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "skiff-volume-hook-" }));
  try {
    await fn(dir);
  } finally {
    for (const point of await mountsUnder(dir)) await new Deno.Command("umount", { args: [point] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkHostPath() checks and creates as the hostPath type says", async () => {
  await withDir(async (dir) => {
    await checkHostPath(join(dir, "new/dir"), "DirectoryOrCreate");
    assert.ok((await Deno.stat(join(dir, "new/dir"))).isDirectory);
    await checkHostPath(join(dir, "new/dir"), "Directory");
    await checkHostPath(join(dir, "file"), "FileOrCreate");
    assert.ok((await Deno.stat(join(dir, "file"))).isFile);
    await checkHostPath(join(dir, "file"), "File");
    await checkHostPath("/dev/null", "CharDevice");
    await checkHostPath(join(dir, "anything"), "");
    await assert.rejects(
      checkHostPath(join(dir, "missing"), "Directory"),
      new RegExp(`hostPath type check failed: ${dir}/missing is not a directory`),
    );
    await assert.rejects(checkHostPath(join(dir, "file"), "DirectoryOrCreate"), /is not a directory/);
    await assert.rejects(checkHostPath(join(dir, "new"), "File"), /is not a file/);
    await assert.rejects(checkHostPath(join(dir, "file"), "Socket"), /is not a socket file/);
    await assert.rejects(checkHostPath("/dev/null", "BlockDevice"), /is not a block device/);
    await assert.rejects(checkHostPath(join(dir, "no/parent/file"), "FileOrCreate"), /cannot create file/);
    await assert.rejects(checkHostPath("relative/path", "Directory"), /is not an absolute path/);
  });
});

const needsMount = requireTools(["mount", "umount"], { root: true });

Deno.test({
  name: "VolumeHook mounts a memory-backed emptyDir as a sized tmpfs and unmounts it at tear-down",
  ...needsMount,
  fn: async () => {
    await withDir(async (dataDir) => {
      const hook = new VolumeHook({ dataDir, plugins: staticVolumePlugins([]) });
      const pod: Pod = {
        metadata: { name: "p", namespace: "default", uid: "0c5d8e5f-8c1a-4a43-9d39-1f2a0c3b4d5e" },
        spec: { containers: [], volumes: [{ name: "cache", emptyDir: { medium: "Memory", sizeLimit: "8Mi" } }] },
      };
      const objects = new ObjectReader(new ApiClient({ server: "https://unused" }), "node-1");
      const context = { objects, addresses: { podIPs: [], hostIPs: [] } };
      const { mounts, failures } = await hook.setUp(pod, context);
      assert.deepEqual(failures, []);
      const path = mounts.get("cache")!.hostPath;
      assert.deepEqual(await mountsUnder(path), [path]);
      const mountinfo = await Deno.readTextFile("/proc/self/mountinfo");
      const line = mountinfo.split("\n").find((l) => l.split(" ")[4] === path)!;
      assert.match(line, / - tmpfs tmpfs .*size=8192k/);
      await hook.setUp(pod, context);
      assert.deepEqual(await mountsUnder(path), [path], "mounted once");
      await hook.tearDown(pod.metadata.uid!);
      assert.deepEqual(await mountsUnder(path), []);
      await assert.rejects(Deno.stat(join(dataDir, "pods", pod.metadata.uid!, "volumes")), Deno.errors.NotFound);
    });
  },
});

Deno.test("VolumeHook reports volumes it cannot set up, each with the kubelet's message", async () => {
  await withDir(async (dataDir) => {
    const hook = new VolumeHook({ dataDir, plugins: staticVolumePlugins([]) });
    const pod: Pod = {
      metadata: { name: "p", namespace: "default", uid: "u1" },
      spec: {
        containers: [],
        volumes: [
          { name: "inline", csi: { driver: "nfs.csi.example.com" } },
          { name: "host", hostPath: { path: join(dataDir, "nope"), type: "Directory" } },
          { name: "token", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
          { name: "ok", emptyDir: {} },
        ],
      },
    };
    const objects = new ObjectReader(new ApiClient({ server: "https://unused" }), "node-1");
    const { mounts, failures } = await hook.setUp(pod, { objects, addresses: { podIPs: [], hostIPs: [] } });
    assert.deepEqual([...mounts.keys()], ["ok"]);
    assert.deepEqual(failures, [
      { volume: "inline", message: "driver name nfs.csi.example.com not found in the list of registered CSI drivers" },
      { volume: "host", message: `hostPath type check failed: ${join(dataDir, "nope")} is not a directory` },
      {
        volume: "token",
        message:
          'cannot project a service account token at "token": this cluster does not issue service account tokens',
      },
    ]);
  });
});
