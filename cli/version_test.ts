import assert from "node:assert/strict";
import YAML from "yaml";
import { captureIo, withCluster } from "./_test_harness.ts";
import { runCli } from "./main.ts";
import { CLI_VERSION } from "./_version.ts";

Deno.test("version prints the client and the server versions", async () => {
  await withCluster(async (cluster) => {
    const result = await cluster.run(["version"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `^Client Version: v${
          CLI_VERSION.replaceAll(".", "\\.")
        }\nServer Version: v1\\.32\\.0-skiff\\.[0-9.]+\nKubernetes API: v1\\.32\n$`,
      ),
    );
    const json = JSON.parse((await cluster.run(["version", "-o", "json"])).stdout);
    assert.equal(json.clientVersion.gitVersion, `v${CLI_VERSION}`);
    assert.equal(json.serverVersion.major, "1");
    const yaml = YAML.parse((await cluster.run(["version", "-o", "yaml", "--client"])).stdout);
    assert.deepEqual(Object.keys(yaml), ["clientVersion"]);
  });
});

Deno.test("version --client needs no server; without one, version prints the client and says the server is unreachable", async () => {
  const { io, stdout } = captureIo({ env: {} });
  assert.equal(await runCli(["version", "--client"], io), 0);
  assert.equal(stdout(), `Client Version: v${CLI_VERSION}\n`);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir();
  try {
    const kubeconfig = `${dir}/config`;
    await Deno.writeTextFile(
      kubeconfig,
      YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const down = captureIo({ env: { KUBECONFIG: kubeconfig } });
    assert.equal(await runCli(["version"], down.io), 1);
    assert.equal(down.stdout(), `Client Version: v${CLI_VERSION}\n`);
    assert.match(down.stderr(), /cannot reach the API server at https:\/\/127\.0\.0\.1:[0-9]+ .*`skiff up`/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
