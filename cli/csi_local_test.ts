import assert from "node:assert/strict";
import { join } from "node:path";
import { CsiClient, saveCredentials } from "@skiff/node-agent";
import { createTempDir } from "../test/support/mod.ts";
import { captureIo } from "./_test_harness.ts";
import { runCli } from "./main.ts";
import { runCsiLocalCommand } from "./csi_local_run.ts";

Deno.test("skiff csi-local --help lists csi-local's flags and the defaults under skiff's data directory", async () => {
  const { io, stderr } = captureIo();
  assert.equal(await runCli(["csi-local", "--help"], io), 0);
  const help = stderr();
  for (const flag of ["--endpoint", "--data-dir", "--node-id", "--enforce-size", "--max-volumes"]) {
    assert.ok(help.includes(flag), `--help mentions ${flag}`);
  }
  assert.match(
    help,
    /Under skiff the defaults are: --data-dir \S+\/csi-local, --endpoint \$CSI_ENDPOINT or unix:\/\/\S+\/plugins\/csi-local\/csi\.sock/,
  );
});

Deno.test("skiff csi-local with a bad flag value is a usage error", async () => {
  const { io, stderr } = captureIo();
  assert.equal(await runCli(["csi-local", "--max-volumes", "lots"], io), 2);
  assert.match(stderr(), /--max-volumes <n>' argument 'lots' is invalid\. expected a positive integer/);
});

Deno.test({
  name: "runCsiLocalCommand() serves csi-local where the agent looks for it, with the agent's node name, until stopped",
  // grpc-js leaves a reconnect backoff timer behind a closed channel.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using tmp = await createTempDir({ prefix: "skiff-csi-local-cli-" });
    await saveCredentials(tmp.path, { server: "https://127.0.0.1:6443", token: "abcdef.0123456789", nodeName: "pi-7" });
    const stop = new AbortController();
    const lines: string[] = [];
    const ready = Promise.withResolvers<string>();
    const running = runCsiLocalCommand([], {
      skiffDataDir: tmp.path,
      env: () => undefined,
      write: (line) => lines.push(line),
      signal: stop.signal,
      onReady: (endpoint) => ready.resolve(endpoint),
    });
    const endpoint = await Promise.race([ready.promise, running.then(() => "stopped early")]);
    assert.equal(endpoint, `unix://${join(tmp.path, "plugins", "csi-local", "csi.sock")}`);
    const client = new CsiClient(endpoint);
    try {
      assert.equal((await client.getPluginInfo()).name, "local.csi.skiff.dev");
      assert.equal((await client.nodeGetInfo()).nodeId, "pi-7");
    } finally {
      client.close();
    }
    stop.abort();
    await running;
    assert.ok(lines.some((line) => line.includes("stop request received, stopping")));
    assert.equal(await Deno.stat(join(tmp.path, "csi-local")).then((s) => s.isDirectory), true);
  },
});
