/**
 * Helpers of the containerd runtime's tests: a runtime on a fresh
 * namespace and state directory of a private containerd, and its cleanup.
 *
 * @module
 */

import type { BusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { type Containerd, removeTree, uniqueName } from "../../test/support/mod.ts";
import { ContainerdRuntime, type ContainerdRuntimeOptions } from "./containerd_runtime.ts";
import type { ContainerInfo } from "./runtime.ts";

/** A runtime on its own namespace and state directory of a private containerd, with the busybox image imported. */
export async function newRuntime(
  containerd: Containerd,
  image: BusyboxImage,
  options: Partial<ContainerdRuntimeOptions> = {},
): Promise<{ runtime: ContainerdRuntime; stateDir: string; namespace: string; errors: Error[] }> {
  const namespace = options.namespace ?? uniqueName("skiff-rt");
  const stateDir = options.stateDir ?? await Deno.makeTempDir({ prefix: "skiff-rt-" });
  await containerd.ctr(["images", "import", image.path], { namespace });
  const errors: Error[] = [];
  const runtime = new ContainerdRuntime({
    address: containerd.address,
    namespace,
    onError: (e) => errors.push(e),
    ...options,
    stateDir,
  });
  return { runtime, stateDir, namespace, errors };
}

/** Stops and removes every container of `runtime`, closes it and removes its state directory. */
export async function dispose(runtime: ContainerdRuntime, stateDir: string): Promise<void> {
  try {
    for (const c of await runtime.listContainers()) {
      await runtime.stopContainer(c.id, { gracePeriodSeconds: 0 });
      await runtime.removeContainer(c.id);
    }
  } finally {
    await runtime.close();
    await removeTree(stateDir);
  }
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function exited(runtime: ContainerdRuntime, id: string): Promise<ContainerInfo> {
  return eventually(`container "${id}" to exit`, async () => {
    const info = await runtime.inspectContainer(id);
    return info.state === "exited" ? info : undefined;
  });
}

/** Removes the empty directories runc leaves for a namespace outside containerd's own (as test/support's stop() does). */
export async function removeRuncLeftovers(namespace: string): Promise<void> {
  const paths = [`/run/containerd/runc/${namespace}`];
  for await (const controller of Deno.readDir("/sys/fs/cgroup")) {
    if (controller.isDirectory) paths.push(`/sys/fs/cgroup/${controller.name}/${namespace}`);
  }
  for (const path of paths) await Deno.remove(path).catch(() => {});
}
