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

/**
 * Polls `probe` until it gives a value; a probe that throws counts as not
 * yet, and the timeout's error names the last error or value seen.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "it never answered";
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = "it last answered undefined";
    } catch (error) {
      last = `it last failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits for a container to have exited (default: up to 15 s). */
export function exited(runtime: ContainerdRuntime, id: string, timeoutMs?: number): Promise<ContainerInfo> {
  let state = "";
  return eventually(`container "${id}" to exit`, async () => {
    const info = await runtime.inspectContainer(id);
    state = info.state;
    return info.state === "exited" ? info : undefined;
  }, timeoutMs).catch((error) => {
    throw new Error(`${error.message} (its state: ${state || "never read"})`);
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
