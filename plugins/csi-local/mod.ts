/**
 * csi-local, Skiff's CSI v1 plugin for node-local volumes, and the CSI v1
 * protocol it speaks: `csi.proto` loaded with `@grpc/proto-loader`, the
 * TypeScript shapes of its messages, and a conformance suite any CSI plugin
 * can be run against.
 *
 * @example Run the plugin in-process
 * ```ts
 * import { runCsiLocal } from "@skiff/csi-local";
 *
 * const plugin = await runCsiLocal({
 *   endpoint: "unix:///var/lib/skiff/plugins/csi-local/csi.sock",
 *   dataDir: "/var/lib/skiff/csi-local",
 *   nodeId: "pi-3",
 * });
 * await plugin.stop();
 * ```
 *
 * @module
 */

export { CSI_LOCAL_VERSION, type CsiLocalHandle, type CsiLocalOptions, runCsiLocal } from "./csi_local.ts";
export { parseCsiLocalFlags, type ParseFlagsOptions } from "./csi_local_flags.ts";
export { CSI_LOADER_OPTIONS, CSI_PROTO_PATH, type CsiGrpcPackage, loadCsiPackage, socketPathOf } from "./csi_proto.ts";
export * from "./csi_types.ts";
export { releaseCsiLocalMounts, type ReleaseMountsOptions } from "./release_mounts.ts";
export { type CsiConformanceOptions, type CsiPluginUnderTest, runCsiConformance } from "./conformance.ts";
export { DRIVER_NAME, TOPOLOGY_KEY } from "./_validate.ts";
