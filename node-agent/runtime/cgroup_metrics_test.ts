import assert from "node:assert/strict";
import { join } from "node:path";
import { cgroupMetrics } from "./containerd_runtime.ts";

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
}

Deno.test("cgroupMetrics() reads cgroup v1: cpuacct.usage, memory.usage_in_bytes minus total_inactive_file", async () => {
  const root = await Deno.makeTempDir({ prefix: "skiff-cgroup-" });
  try {
    await writeFiles(root, {
      "cpuacct/skiff/c1/cpuacct.usage": "123456789\n",
      "memory/skiff/c1/memory.usage_in_bytes": "10485760\n",
      "memory/skiff/c1/memory.stat": "cache 4096\ninactive_file 0\ntotal_inactive_file 2097152\n",
    });
    assert.deepEqual(await cgroupMetrics("/skiff/c1", root), {
      cpuUsageNanoseconds: 123456789,
      memoryUsageBytes: 10485760,
      memoryWorkingSetBytes: 8388608,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroupMetrics() reads cgroup v2: cpu.stat usage_usec, memory.current minus inactive_file", async () => {
  const root = await Deno.makeTempDir({ prefix: "skiff-cgroup-" });
  try {
    await writeFiles(root, {
      "skiff/c1/cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
      "skiff/c1/memory.current": "5000000\n",
      "skiff/c1/memory.stat": "anon 100\nactive_file 10\ninactive_file 1000000\n",
    });
    assert.deepEqual(await cgroupMetrics("/skiff/c1", root), {
      cpuUsageNanoseconds: 2_500_000,
      memoryUsageBytes: 5000000,
      memoryWorkingSetBytes: 4000000,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroupMetrics() is undefined when the cgroup is in neither layout (the caller asks ctr)", async () => {
  const root = await Deno.makeTempDir({ prefix: "skiff-cgroup-" });
  try {
    assert.equal(await cgroupMetrics("/skiff/missing", root), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
