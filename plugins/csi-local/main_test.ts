import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { loadCsiPackage } from "./csi_proto.ts";
import type { GetPluginInfoResponse } from "./csi_types.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function waitFor(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`"${path}" did not appear within ${timeoutMs} ms`);
}

Deno.test({
  name: "main.ts serves csi-local standalone and stops on SIGTERM, removing its socket",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "skiff-csi-main-" });
    const socket = join(root, "plugins", "csi-local", "csi.sock");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--endpoint",
        `unix://${socket}`,
        "--data-dir",
        join(root, "data"),
        "--node-id",
        "main-test",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      await waitFor(socket, 30_000);
      const csi = loadCsiPackage();
      const identity = new csi.Identity(
        `unix://${socket}`,
        grpc.credentials.createInsecure(),
      );
      const info = await new Promise<GetPluginInfoResponse>((resolve, reject) =>
        (identity as unknown as {
          GetPluginInfo: (
            request: object,
            options: grpc.CallOptions,
            callback: (error: Error | null, response: unknown) => void,
          ) => void;
        }).GetPluginInfo(
          {},
          { deadline: Date.now() + 10_000 },
          (error, response) => error ? reject(error) : resolve(response as GetPluginInfoResponse),
        )
      );
      identity.close();
      assert.equal(info.name, "local.csi.skiff.dev");
    } finally {
      child.kill("SIGTERM");
      const output = await child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 0, stderr);
      assert.match(stderr, /serving local\.csi\.skiff\.dev/);
      await assert.rejects(Deno.stat(socket), Deno.errors.NotFound);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("main.ts exits with code 2 and says why on bad flags", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--data-dir", "/tmp/never-used"],
    env: { CSI_ENDPOINT: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /no endpoint/);
});
