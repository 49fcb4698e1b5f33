import assert from "node:assert/strict";
import { join } from "node:path";
import { releaseCsiLocalMounts, runCsiLocal } from "@skiff/csi-local";
import { CsiClient, CsiError } from "./csi_client.ts";
import { answer, serveCsi } from "./_test_servers.ts";

const grpcTest = (name: string, fn: (dir: string) => Promise<void>) =>
  Deno.test({
    name,
    // grpc-js leaves a reconnect backoff timer behind a closed channel.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "skiff-csi-client-" });
      try {
        await fn(dir);
      } finally {
        await releaseCsiLocalMounts(join(dir, "data"));
        await Deno.remove(dir, { recursive: true });
      }
    },
  });

async function rejection(promise: Promise<unknown>): Promise<CsiError> {
  const error = await promise.then(() => undefined, (caught) => caught);
  assert.ok(error instanceof CsiError, `expected a CsiError, got ${error}`);
  return error;
}

grpcTest("CsiClient turns a plugin's error into a CsiError naming the RPC, endpoint, code and field", async (dir) => {
  const plugin = await runCsiLocal({
    endpoint: `unix://${join(dir, "csi.sock")}`,
    dataDir: join(dir, "data"),
    nodeId: "client-test",
    log: () => {},
  });
  const client = new CsiClient(plugin.endpoint);
  try {
    const info = await client.getPluginInfo();
    assert.equal(info.name, "local.csi.skiff.dev");
    const error = await rejection(client.deleteVolume({}));
    assert.equal(error.code, 3);
    assert.equal(error.codeName, "INVALID_ARGUMENT");
    assert.equal(error.rpc, "DeleteVolume");
    assert.equal(error.endpoint, plugin.endpoint);
    assert.equal(
      error.message,
      `CSI DeleteVolume to "${plugin.endpoint}" failed with INVALID_ARGUMENT: Missing required field "volume_id"`,
    );
  } finally {
    client.close();
    await plugin.stop();
  }
});

grpcTest("CsiClient fails with DEADLINE_EXCEEDED when the plugin does not answer in time", async (dir) => {
  const server = await serveCsi(join(dir, "slow.sock"), {
    Identity: { Probe: () => {} },
  });
  const client = new CsiClient(server.endpoint, { timeoutMs: 200 });
  try {
    const error = await rejection(client.probe());
    assert.equal(error.codeName, "DEADLINE_EXCEEDED");
    assert.match(error.message, /CSI Probe .* no answer within 200 ms$/);
    const sooner = await rejection(client.probe({}, { timeoutMs: 50 }));
    assert.match(sooner.message, /no answer within 50 ms$/);
  } finally {
    client.close();
    await server.stop();
  }
});

grpcTest("CsiClient cancels a call when its signal aborts", async (dir) => {
  const server = await serveCsi(join(dir, "slow.sock"), {
    Identity: { Probe: () => {} },
  });
  const client = new CsiClient(server.endpoint);
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(
      client.probe({}, { signal: controller.signal }),
    );
    assert.equal(error.codeName, "CANCELLED");
    const early = await rejection(
      client.probe({}, { signal: AbortSignal.abort() }),
    );
    assert.equal(early.codeName, "CANCELLED");
  } finally {
    client.close();
    await server.stop();
  }
});

grpcTest("CsiClient to a socket nobody serves fails with UNAVAILABLE and says what to check", async (dir) => {
  const client = new CsiClient(`unix://${join(dir, "nobody.sock")}`);
  try {
    const error = await rejection(client.getPluginInfo());
    assert.equal(error.codeName, "UNAVAILABLE");
    assert.match(error.message, /is the plugin running/);
    const waited = await rejection(client.waitForReady(100));
    assert.equal(waited.codeName, "UNAVAILABLE");
  } finally {
    client.close();
  }
});

grpcTest(
  "CsiClient.createVolume() on a plugin without the Controller service fails with UNIMPLEMENTED",
  async (dir) => {
    const server = await serveCsi(join(dir, "node-only.sock"), {
      Identity: {
        GetPluginInfo: answer({
          name: "node-only.example.com",
          vendorVersion: "1",
        }),
      },
    });
    const client = new CsiClient(server.endpoint);
    try {
      await client.waitForReady(5_000);
      const error = await rejection(client.createVolume({ name: "x" }));
      assert.equal(error.codeName, "UNIMPLEMENTED");
    } finally {
      client.close();
      await server.stop();
    }
  },
);

Deno.test("CsiClient refuses an endpoint that is not unix:///absolute/path", () => {
  assert.throws(() => new CsiClient("tcp://127.0.0.1:9000"), TypeError);
  assert.throws(() => new CsiClient("unix://relative.sock"), /must be absolute/);
  assert.throws(
    () => new CsiClient("unix:///x.sock", { timeoutMs: 0 }),
    /Invalid timeoutMs 0/,
  );
});
