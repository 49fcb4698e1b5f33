/**
 * The node agent's container runtime seam: the `Runtime` interface, the
 * container labels that tie containers to pods, the in-memory
 * `FakeRuntime` (unit tests and simulated nodes) and `ContainerdRuntime`
 * (containerd through `ctr`), with what goes around it: `ensureContainerd`
 * (find or start a containerd), `startImageImport` (airgap image archives)
 * and the CRI-format container log readers. Every implementation passes the
 * conformance suite in `conformance.ts`.
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
export * from "./containerd_runtime.ts";
export * from "./containerd_daemon.ts";
export * from "./image_import.ts";
export * from "./container_log.ts";
export type { ExecSession, ExecStreamOptions, TerminalSize } from "./exec_session.ts";
export type { LogRotation } from "./_log_writer.ts";
