/**
 * The node agent's container runtime seam: the `Runtime` interface, the
 * container labels that tie containers to pods, the in-memory
 * `FakeRuntime` (unit tests and simulated nodes). Every implementation
 * passes the conformance suite in `conformance.ts`.
 *
 * @example
 * ```ts
 * import { containerLabels, FakeRuntime } from "./mod.ts";
 *
 * const runtime = new FakeRuntime();
 * await runtime.ensureImage("busybox");
 * await runtime.createContainer({
 *   id: "6a1f-web-0",
 *   image: "busybox",
 *   command: ["sleep", "3600"],
 *   labels: containerLabels({ podUid: "6a1f", podNamespace: "default", podName: "web", containerName: "web", restartCount: 0 }),
 * });
 * await runtime.startContainer("6a1f-web-0");
 * ```
 *
 * @module
 */

export * from "./runtime.ts";
export * from "./fake_runtime.ts";
