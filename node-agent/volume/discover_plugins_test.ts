import assert from "node:assert/strict";
import { join } from "node:path";
import { runCsiLocal } from "@skiff/csi-local";
import { discoverPlugins } from "./discover_plugins.ts";
import { answer, serveCsi } from "./_test_servers.ts";

Deno.test({
  name: "discoverPlugins() finds each socket's driver and reports invalid, duplicate, silent and non-socket entries",
  // grpc-js leaves a reconnect backoff timer behind a closed channel.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "skiff-discover-" });
    const pluginsDir = join(root, "plugins");
    const socket = (name: string) => join(pluginsDir, name, "csi.sock");
    const stops: (() => Promise<void>)[] = [];
    let silent: Deno.UnixListener | undefined;
    try {
      for (const name of ["csi-local", "csi-local-copy"]) {
        const plugin = await runCsiLocal({
          endpoint: `unix://${socket(name)}`,
          dataDir: join(root, `data-${name}`),
          nodeId: "discover-node",
          log: () => {},
        });
        stops.push(plugin.stop);
      }
      const other = await serveCsi(socket("other"), {
        Identity: {
          GetPluginInfo: answer({
            name: "other.example.com",
            vendorVersion: "2.1",
          }),
        },
      });
      stops.push(other.stop);
      const bad = await serveCsi(socket("bad-name"), {
        Identity: { GetPluginInfo: answer({ name: "../../etc", vendorVersion: "1" }) },
      });
      stops.push(bad.stop);
      await Deno.mkdir(join(pluginsDir, "silent"));
      silent = Deno.listen({ transport: "unix", path: socket("silent") });
      await Deno.mkdir(join(pluginsDir, "empty"));
      await Deno.mkdir(join(pluginsDir, "file"));
      await Deno.writeTextFile(socket("file"), "not a socket");

      // The silent plugin costs the whole timeout; the healthy ones share this event loop, so it must not be tight.
      const { plugins, failures } = await discoverPlugins(pluginsDir, {
        timeoutMs: 3_000,
      });
      try {
        assert.deepEqual(
          plugins.map((p) => [p.dirName, p.driverName, p.endpoint]),
          [
            ["csi-local", "local.csi.skiff.dev", `unix://${socket("csi-local")}`],
            ["other", "other.example.com", `unix://${socket("other")}`],
          ],
        );
        assert.equal(plugins[1]?.vendorVersion, "2.1");
        assert.deepEqual(
          (await plugins[0]?.client.nodeGetInfo())?.nodeId,
          "discover-node",
        );
        assert.deepEqual(failures.map((f) => f.dirName), [
          "bad-name",
          "csi-local-copy",
          "file",
          "silent",
        ]);
        assert.match(failures[0]?.error.message ?? "", /invalid driver name "..\/..\/etc"/);
        assert.match(failures[1]?.error.message ?? "", /already served by/);
        assert.match(failures[2]?.error.message ?? "", /not a unix socket/);
        assert.match(failures[3]?.error.message ?? "", /DEADLINE_EXCEEDED/);
      } finally {
        for (const plugin of plugins) plugin.client.close();
      }
    } finally {
      silent?.close();
      for (const stop of stops) await stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("discoverPlugins() of a missing directory finds nothing", async () => {
  const result = await discoverPlugins("/nonexistent/skiff/plugins");
  assert.deepEqual(result, { plugins: [], failures: [] });
});
