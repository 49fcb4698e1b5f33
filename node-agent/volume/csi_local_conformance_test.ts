/**
 * Runs the CSI conformance suite against csi-local through the agent's
 * CsiClient, in both storage modes: plain directories, and size-enforced
 * ext4 images on loop devices. Where loop devices are missing the second
 * run is ignored, except under CI=true, where it fails saying why.
 */

import { join } from "node:path";
import { type CsiPluginUnderTest, releaseCsiLocalMounts, runCsiConformance, runCsiLocal } from "@skiff/csi-local";
import { CsiClient } from "./csi_client.ts";

const LOOP_AVAILABLE = await Deno.stat("/dev/loop-control").then(
  () => true,
  () => false,
);
const IN_CI = Deno.env.get("CI") === "true";
if (!LOOP_AVAILABLE) {
  console.warn(
    `Loop devices are unavailable here (/dev/loop-control is missing): the size-enforced csi-local conformance run is ${
      IN_CI ? "failing (CI=true)" : "ignored"
    }`,
  );
}

/** Starts csi-local in a fresh temporary directory; stop() removes it all. */
async function startCsiLocal(enforceSize: boolean): Promise<CsiPluginUnderTest> {
  const root = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "skiff-csi-conformance-" }),
  );
  const dataDir = join(root, "data");
  const workDir = join(root, "work");
  await Deno.mkdir(workDir);
  const teardown = async () => {
    await releaseCsiLocalMounts(dataDir, { targetRoots: [workDir] });
    await Deno.remove(root, { recursive: true });
  };
  let plugin;
  try {
    plugin = await runCsiLocal({
      endpoint: `unix://${join(root, "csi.sock")}`,
      dataDir,
      nodeId: "conformance-node",
      enforceSize,
      log: () => {},
    });
  } catch (error) {
    await teardown();
    throw error;
  }
  const client = new CsiClient(plugin.endpoint, { timeoutMs: 30_000 });
  return {
    client,
    workDir,
    stop: async () => {
      client.close();
      try {
        await plugin.stop();
      } finally {
        await teardown();
      }
    },
  };
}

runCsiConformance(() => startCsiLocal(false), {
  name: "csi-local (directories)",
  messagesNameFields: true,
});

runCsiConformance(() => startCsiLocal(true), {
  name: "csi-local (ext4 images)",
  messagesNameFields: true,
  enforcesCapacity: true,
  ignore: !LOOP_AVAILABLE && !IN_CI,
});
