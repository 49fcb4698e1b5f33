import assert from "node:assert/strict";
import type * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { CsiClient } from "./csi_client.ts";
import { CsiVolumePlugin } from "./volume_plugin.ts";
import { answer, serveCsi } from "./_test_servers.ts";

const MIB = 1024 * 1024;

async function isMountPoint(path: string): Promise<boolean> {
  const table = await Deno.readTextFile("/proc/self/mountinfo");
  return table.split("\n").some((line) => line.split(" ")[4] === path);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

const grpcTest = (name: string, fn: (root: string) => Promise<void>) =>
  Deno.test({
    name,
    // grpc-js leaves a reconnect backoff timer behind a closed channel.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const root = await Deno.realPath(
        await Deno.makeTempDir({ prefix: "skiff-volume-plugin-" }),
      );
      try {
        await fn(root);
      } finally {
        await releaseCsiLocalMounts(join(root, "data"), {
          targetRoots: [join(root, "pods")],
        });
        await Deno.remove(root, { recursive: true });
      }
    },
  });

grpcTest(
  "CsiVolumePlugin publishes csi-local volumes under the pod directory, measures and unpublishes them",
  async (root) => {
    const plugin = await runCsiLocal({
      endpoint: `unix://${join(root, "csi.sock")}`,
      dataDir: join(root, "data"),
      nodeId: "agent-node",
      log: () => {},
    });
    const client = new CsiClient(plugin.endpoint);
    try {
      const created = await client.createVolume({
        name: "pvc-data",
        capacityRange: { requiredBytes: 16 * MIB },
        volumeCapabilities: [{
          mount: {},
          accessMode: { mode: "SINGLE_NODE_MULTI_WRITER" },
        }],
      });
      const volumeId = created.volume?.volumeId ?? "";
      const volumes = await CsiVolumePlugin.create(client, {
        podsDir: join(root, "pods"),
        stateDir: join(root, "state"),
      });
      assert.equal(volumes.driverName, "local.csi.skiff.dev");

      const writer = {
        podUid: "pod-a",
        volumeName: "data",
        volumeId,
        accessMode: "SINGLE_NODE_MULTI_WRITER" as const,
      };
      const published = await volumes.publish(writer);
      assert.deepEqual(published, {
        volumeId,
        targetPath: join(root, "pods/pod-a/volumes/local.csi.skiff.dev/data"),
        readOnly: false,
      });
      assert.deepEqual(await volumes.publish(writer), published);
      assert.ok(await isMountPoint(published.targetPath));
      await Deno.writeTextFile(join(published.targetPath, "a.txt"), "from a");

      const reader = { ...writer, podUid: "pod-b", readOnly: true };
      const readOnly = await volumes.publish(reader);
      assert.equal(
        await Deno.readTextFile(join(readOnly.targetPath, "a.txt")),
        "from a",
      );
      await assert.rejects(
        Deno.writeTextFile(join(readOnly.targetPath, "b.txt"), "x"),
        (error: unknown) => (error as { code?: string }).code === "EROFS",
      );

      const stats = await volumes.stats(writer);
      assert.ok(stats?.bytes && stats.bytes.total > 0);
      assert.ok(stats?.inodes && (stats.inodes.used ?? 0) > 0);

      await volumes.unpublish(writer);
      await volumes.unpublish(writer);
      assert.equal(await exists(published.targetPath), false);
      await volumes.unpublish(reader);
      assert.equal(await isMountPoint(readOnly.targetPath), false);
      assert.deepEqual(
        [...Deno.readDirSync(join(root, "state/published/local.csi.skiff.dev"))],
        [],
      );
      await client.deleteVolume({ volumeId });
    } finally {
      client.close();
      await plugin.stop();
    }
  },
);

grpcTest(
  "CsiVolumePlugin.unpublish() of a volume the plugin no longer knows removes the empty target directory",
  async (root) => {
    const plugin = await runCsiLocal({
      endpoint: `unix://${join(root, "csi.sock")}`,
      dataDir: join(root, "data"),
      nodeId: "agent-node",
      log: () => {},
    });
    const client = new CsiClient(plugin.endpoint);
    try {
      const volumes = await CsiVolumePlugin.create(client, {
        podsDir: join(root, "pods"),
        stateDir: join(root, "state"),
      });
      const ref = { podUid: "gone", volumeName: "data", volumeId: "deleted" };
      const target = volumes.targetPath(ref);
      await Deno.mkdir(target, { recursive: true });
      await volumes.unpublish(ref);
      assert.equal(await exists(target), false);
      assert.throws(
        () => volumes.targetPath({ podUid: "../etc", volumeName: "data" }),
        /Invalid podUid "..\/etc"/,
      );
      await assert.rejects(
        volumes.publish({ podUid: "p", volumeName: "a/b", volumeId: "v" }),
        /Invalid volumeName "a\/b"/,
      );
    } finally {
      client.close();
      await plugin.stop();
    }
  },
);

/** A third-party-like plugin that stages and controller-publishes. */
async function stagingPlugin(socketPath: string, calls: string[]) {
  const record = (
    name: string,
    describe: (request: Record<string, unknown>) => string,
  ): grpc.handleUnaryCall<Record<string, unknown>, unknown> =>
  (call, callback) => {
    calls.push(`${name} ${describe(call.request)}`);
    callback(null, {});
  };
  const controllerPublish: grpc.handleUnaryCall<
    Record<string, unknown>,
    unknown
  > = (call, callback) => {
    calls.push(
      `ControllerPublishVolume ${call.request.volumeId} ${call.request.nodeId}`,
    );
    callback(null, { publishContext: { device: "/dev/fake0" } });
  };
  const context = (request: Record<string, unknown>) =>
    (request.publishContext as Record<string, string>)["device"] ?? "-";
  return await serveCsi(socketPath, {
    Identity: {
      GetPluginInfo: answer({
        name: "staged.example.com",
        vendorVersion: "1.0",
      }),
      GetPluginCapabilities: answer({
        capabilities: [{ service: { type: "CONTROLLER_SERVICE" } }],
      }),
    },
    Controller: {
      ControllerGetCapabilities: answer({
        capabilities: [{ rpc: { type: "PUBLISH_UNPUBLISH_VOLUME" } }],
      }),
      ControllerPublishVolume: controllerPublish,
      ControllerUnpublishVolume: record(
        "ControllerUnpublishVolume",
        (r) => `${r.volumeId} ${r.nodeId}`,
      ),
    },
    Node: {
      NodeGetCapabilities: answer({
        capabilities: [{ rpc: { type: "STAGE_UNSTAGE_VOLUME" } }],
      }),
      NodeGetInfo: answer({ nodeId: "fake-node" }),
      NodeStageVolume: record(
        "NodeStageVolume",
        (r) => `${r.volumeId} ${context(r)}`,
      ),
      NodeUnstageVolume: record("NodeUnstageVolume", (r) => `${r.volumeId}`),
      NodePublishVolume: record(
        "NodePublishVolume",
        (r) =>
          `${r.volumeId} ${String(r.targetPath).split("/").at(-4)} ${context(r)} staged=${r.stagingTargetPath !== ""}`,
      ),
      NodeUnpublishVolume: record(
        "NodeUnpublishVolume",
        (r) => `${r.volumeId} ${String(r.targetPath).split("/").at(-4)}`,
      ),
    },
  });
}

grpcTest(
  "CsiVolumePlugin controller-publishes and stages once per volume and undoes both after the last pod, across restarts",
  async (root) => {
    const calls: string[] = [];
    const server = await stagingPlugin(join(root, "staged.sock"), calls);
    const client = new CsiClient(server.endpoint);
    try {
      const options = {
        podsDir: join(root, "pods"),
        stateDir: join(root, "state"),
      };
      const first = await CsiVolumePlugin.create(client, options);
      assert.equal(first.driverName, "staged.example.com");
      await first.publish({ podUid: "pod-a", volumeName: "v", volumeId: "vol-1" });
      await first.publish({ podUid: "pod-b", volumeName: "v", volumeId: "vol-1" });
      assert.equal(await first.stats({ podUid: "pod-a", volumeName: "v", volumeId: "vol-1" }), undefined);

      const restarted = await CsiVolumePlugin.create(client, options);
      await restarted.unpublish({ podUid: "pod-a", volumeName: "v", volumeId: "vol-1" });
      await restarted.unpublish({ podUid: "pod-b", volumeName: "v", volumeId: "vol-1" });

      assert.deepEqual(calls, [
        "ControllerPublishVolume vol-1 fake-node",
        "NodeStageVolume vol-1 /dev/fake0",
        "NodePublishVolume vol-1 pod-a /dev/fake0 staged=true",
        "NodeStageVolume vol-1 /dev/fake0",
        "NodePublishVolume vol-1 pod-b /dev/fake0 staged=true",
        "NodeUnpublishVolume vol-1 pod-a",
        "NodeUnpublishVolume vol-1 pod-b",
        "NodeUnstageVolume vol-1",
        "ControllerUnpublishVolume vol-1 fake-node",
      ]);
      assert.deepEqual(
        [...Deno.readDirSync(join(root, "state/staging/staged.example.com"))],
        [],
      );
    } finally {
      client.close();
      await server.stop();
    }
  },
);
