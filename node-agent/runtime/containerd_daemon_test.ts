import assert from "node:assert/strict";
import { join } from "node:path";
import { createTempDir, requireTools, startContainerd } from "../../test/support/mod.ts";
import { run } from "../_exec.ts";
import { containerdConfig, ensureContainerd } from "./containerd_daemon.ts";

const needs = requireTools(["containerd", "ctr", "runc"], { root: true });

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

Deno.test({
  name: "ensureContainerd() starts its own containerd under the data dir and stop() stops it",
  ...needs,
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-ctdd-" });
    const first = await ensureContainerd({ dataDir: tmp.path, address: tmp.join("none.sock") });
    try {
      assert.equal(first.ownProcess, true);
      assert.equal(first.address, tmp.join("containerd", "containerd.sock"));
      const version = await run(["ctr", "-a", first.address, "version"]);
      assert.match(version.stdout, /Server:/);
      assert.match(await Deno.readTextFile(tmp.join("containerd", "config.toml")), /io\.containerd\.grpc\.v1\.cri/);

      const again = await ensureContainerd({ dataDir: tmp.path, address: tmp.join("none.sock") });
      assert.deepEqual([again.ownProcess, again.address], [false, first.address]);
      await again.stop();
      assert.equal(await alive(first.pid!), true, "stopping a containerd it did not start does nothing");
    } finally {
      await first.stop();
    }
    assert.equal(await alive(first.pid!), false);
    await first.stop();
  },
});

Deno.test({
  name: "ensureContainerd() uses a containerd that answers at the given address and never stops it",
  ...needs,
  fn: async () => {
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-ctdd-" });
    const handle = await ensureContainerd({ dataDir: tmp.path, address: containerd.address });
    assert.deepEqual([handle.address, handle.ownProcess], [containerd.address, false]);
    await handle.stop();
    assert.match((await containerd.ctr(["version"])).stdout, /Server:/);
    assert.equal(await Array.fromAsync(Deno.readDir(tmp.path)).then((e) => e.length), 0, "nothing was created");
  },
});

Deno.test("ensureContainerd() refuses a data dir too long for its sockets", async () => {
  const dataDir = `/tmp/${"d".repeat(90)}`;
  await assert.rejects(
    ensureContainerd({ dataDir, address: "/nonexistent/containerd.sock" }),
    (e) => e instanceof RangeError && /longer than the 107 bytes/.test(e.message),
  );
});

Deno.test("ensureContainerd() reports containerd's log when it cannot start", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-ctdd-" });
  await assert.rejects(
    ensureContainerd({
      dataDir: tmp.path,
      address: tmp.join("none.sock"),
      spawn: (cmd, options) => {
        Deno.writeTextFileSync(options!.stderrFile!, 'level=fatal msg="boom"\n');
        const status = Promise.resolve({ code: 1, signal: null });
        return {
          pid: 1,
          lines: (async function* () {})(),
          stderr: Promise.resolve(""),
          status,
          kill: () => assert.fail(`unexpected kill of ${cmd.join(" ")}`),
        };
      },
    }),
    /Cannot start containerd under ".*": it exited with code 1; last log lines:\nlevel=fatal msg="boom"/,
  );
});

Deno.test("containerdConfig() puts root, state and every socket under the directory and disables CRI", () => {
  const config = containerdConfig("/d");
  for (const path of ["/d/root", "/d/state", "/d/containerd.sock", "/d/containerd.sock.ttrpc", "/d/debug.sock"]) {
    assert.ok(config.includes(`"${path}"`), path);
  }
  assert.match(config, /^version = 2$/m);
  assert.match(config, /^disabled_plugins = \["io\.containerd\.grpc\.v1\.cri"\]$/m);
  assert.ok(!config.includes(join("/", "run")));
});
