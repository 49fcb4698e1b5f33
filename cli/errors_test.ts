import assert from "node:assert/strict";
import { join } from "node:path";
import YAML from "yaml";
import { newToken, SYSTEM_USER, TOKEN_NAMESPACE } from "@skiff/control-plane";
import type { KubeObject } from "@skiff/api";
import { captureIo, type TestCluster, withCluster } from "./_test_harness.ts";
import { runCli } from "./main.ts";

/** The parts of a kubeconfig these tests change. */
interface Kubeconfig {
  clusters: { cluster: { server: string } }[];
  users: { user: { token: string } }[];
}

/** Writes a copy of the admin kubeconfig with `change` applied, and returns its path. */
async function kubeconfigCopy(cluster: TestCluster, name: string, change: (config: Kubeconfig) => void) {
  const config = YAML.parse(await Deno.readTextFile(cluster.kubeconfig)) as Kubeconfig;
  change(config);
  const path = join(cluster.dir, name);
  await Deno.writeTextFile(path, YAML.stringify(config));
  return path;
}

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  return lines[0]!;
}

Deno.test("an unreachable API server is named with its URL, and the error suggests skiff up", async () => {
  await withCluster(async (cluster) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const path = await kubeconfigCopy(cluster, "down.kubeconfig", (c) => {
      c.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
    });
    const result = await cluster.run(["get", "pods", "--kubeconfig", path]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      oneLine(result.stderr),
      new RegExp(
        `^error: cannot reach the API server at https://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): is the cluster running\\? Start it with \`skiff up\``,
      ),
    );
  });
});

Deno.test("a 401 says the token is wrong and where it came from", async () => {
  await withCluster(async (cluster) => {
    const path = await kubeconfigCopy(cluster, "wrong.kubeconfig", (c) => {
      c.users[0]!.user.token = "skiff-abcdef.00000000000000000000000000000000";
    });
    const result = await cluster.run(["get", "pods"], { env: { KUBECONFIG: path } });
    assert.equal(result.code, 1);
    const line = oneLine(result.stderr);
    assert.match(line, /rejected the credentials \(401 Unauthorized\): the token of user "skiff-admin"/);
    assert.ok(line.includes(path), "names the kubeconfig file");
  });
});

Deno.test("a 403 says these credentials may not do this", async () => {
  await withCluster(async (cluster) => {
    const viewer = await newToken({ role: "viewer", description: "test viewer" });
    const secrets = cluster.server.types.find((t) => t.kind === "Secret")!;
    await cluster.server.handler.objects.create(secrets, TOKEN_NAMESPACE, viewer.secret, { user: SYSTEM_USER });
    const path = await kubeconfigCopy(cluster, "viewer.kubeconfig", (c) => {
      c.users[0]!.user.token = viewer.token;
    });
    const read = await cluster.run(["get", "ns", "-o", "name", "--kubeconfig", path]);
    assert.equal(read.code, 0, read.stderr);
    const write = await cluster.run(["label", "ns", "default", "a=b", "--kubeconfig", path]);
    assert.equal(write.code, 1);
    assert.match(
      oneLine(write.stderr),
      /\(403 Forbidden\): these credentials may not do this; use a kubeconfig with the admin role/,
    );
  });
});

Deno.test("a 409 conflict says the object changed and to run the command again", async () => {
  await withCluster(async (cluster) => {
    const cm = await cluster.admin.kind("v1", "ConfigMap").create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: "default" },
    });
    await cluster.admin.kind("v1", "ConfigMap").patch("settings", { data: { changed: "yes" } }, {
      namespace: "default",
    });
    const result = await cluster.run([
      "label",
      "cm",
      "settings",
      "tier=a",
      `--resource-version=${cm.metadata.resourceVersion}`,
    ]);
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result.stderr),
      /^error: configmap\/settings: Operation cannot be fulfilled on configmaps "settings": the object changed on the server since it was read: run the command again/,
    );
  });
});

Deno.test("an Invalid error lists each field path and reason on one line", async () => {
  await withCluster(async (cluster) => {
    const result = await cluster.run(["create", "-f", "-"], {
      stdin: YAML.stringify(
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "broken" },
          spec: { ports: [{ port: 70000 }], type: "Sideways" },
        } satisfies KubeObject,
      ),
    });
    assert.equal(result.code, 1);
    const line = oneLine(result.stderr);
    assert.match(line, /Service "broken" is invalid: /);
    assert.match(line, /spec\.ports\[0\]\.port: [^;]+/);
    assert.match(line, /spec\.type: [^;]+/);
    assert.match(line, /: fix these fields and try again$/);
  });
});

Deno.test("a YAML syntax error gives the file, line and column", async () => {
  await withCluster(async (cluster) => {
    const file = join(cluster.dir, "broken.yaml");
    await Deno.writeTextFile(
      file,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: c\n",
    );
    const result = await cluster.run(["apply", "-f", file]);
    assert.equal(result.code, 1);
    assert.match(
      oneLine(result.stderr),
      new RegExp(`^error: cannot parse "${file}": line 7, column 3: .+: fix the YAML and run the command again$`),
    );
    const json = join(cluster.dir, "broken.json");
    await Deno.writeTextFile(json, '{\n  "apiVersion": "v1"\n  "kind": "ConfigMap"\n}');
    const jsonResult = await cluster.run(["apply", "-f", json]);
    assert.match(
      oneLine(jsonResult.stderr),
      /^error: cannot parse ".*broken\.json": line 3, column 3: .+: fix the JSON/,
    );
    const noKind = await cluster.run(["apply", "-f", "-"], { stdin: "apiVersion: v1\nmetadata:\n  name: x\n" });
    assert.match(oneLine(noKind.stderr), /"<stdin>" document 1 has no kind: every object needs apiVersion and kind/);
    const missing = await cluster.run(["apply", "-f", join(cluster.dir, "nope.yaml")]);
    assert.match(oneLine(missing.stderr), /the path ".*nope\.yaml" does not exist/);
  });
});

Deno.test("usage errors, commander's own included, exit with code 2 on one line", async () => {
  for (
    const [args, pattern] of [
      [["get", "pods", "--no-such-flag"], /^error: unknown option '--no-such-flag': see `skiff get --help`$/],
      [["scale", "deploy/web", "--replicas", "many"], /option '--replicas <count>' argument 'many' is invalid/],
      [["frobnicate"], /^error: unknown command 'frobnicate'/],
      [
        ["completion", "tcsh"],
        /value 'tcsh' is invalid for argument 'shell'\. Allowed choices are bash, zsh, fish: see `skiff completion --help`$/,
      ],
    ] as const
  ) {
    const { io, stderr } = captureIo();
    const code = await runCli(args, io);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr()}`);
    assert.match(oneLine(stderr()), pattern);
  }
  const { io, stderr } = captureIo();
  assert.equal(await runCli(["rollout"], io), 2, "a command group without its subcommand shows its help");
  assert.match(stderr(), /^Usage: skiff rollout \[options\] \[command\]/);
});

Deno.test("no kubeconfig at all says how to get one", async () => {
  const home = await Deno.makeTempDir();
  try {
    const { io, stderr } = captureIo({ env: { HOME: home } });
    const code = await runCli(["get", "pods"], io);
    assert.equal(code, 1);
    assert.match(oneLine(stderr()), /No kubeconfig found: .* run `skiff up` to start a cluster/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("errors are red on a terminal, and never coloured with NO_COLOR or in a pipe", async () => {
  const run = async (options: Parameters<typeof captureIo>[0]) => {
    const { io, stderr } = captureIo(options);
    await runCli(["get", "gizmos"], io);
    return stderr();
  };
  assert.ok((await run({ terminal: true, env: {} })).startsWith("\x1b[31merror:\x1b[39m "));
  assert.ok((await run({ terminal: true, env: { NO_COLOR: "1" } })).startsWith("error: "));
  assert.ok((await run({ terminal: false, env: {} })).startsWith("error: "));
});
