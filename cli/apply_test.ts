import assert from "node:assert/strict";
import { join } from "node:path";
import YAML from "yaml";
import type { KubeObject } from "@skiff/api";
import { TESTDATA, withCluster } from "./_test_harness.ts";

const WEBAPP = join(TESTDATA, "webapp");
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** True when every field of `expected` is in `actual` with the same value (lists compared item by item). */
function assertSubset(actual: unknown, expected: unknown, path = ""): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is not a list`);
    assert.equal((actual as unknown[]).length, expected.length, `${path} has another length`);
    expected.forEach((item, i) => assertSubset((actual as unknown[])[i], item, `${path}[${i}]`));
  } else if (typeof expected === "object" && expected !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${path} is missing`);
    for (const [k, v] of Object.entries(expected)) {
      assertSubset((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  } else {
    assert.equal(actual, expected, path);
  }
}

async function manifests(): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for (
    const file of ["00-namespace.yaml", "configmap.yaml", "deployment.yaml", "pvc.yaml", "secret.yaml", "service.yaml"]
  ) {
    objects.push(YAML.parse(await Deno.readTextFile(join(WEBAPP, file))));
  }
  return objects;
}

Deno.test("apply -f of the web app (Deployment, Service, ConfigMap, Secret, PVC) round-trips with get -o yaml", async () => {
  await withCluster(async (cluster) => {
    const first = await cluster.run(["apply", "-f", WEBAPP]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      [
        "namespace/webapp created",
        "configmap/web-config created",
        "deployment.apps/web created",
        "persistentvolumeclaim/web-data created",
        "secret/web-db created",
        "service/web created",
        "",
      ].join("\n"),
    );
    const saved: { type: string; yaml: string }[] = [];
    for (const manifest of await manifests()) {
      const type = manifest.kind!.toLowerCase();
      const args = ["get", type, manifest.metadata.name!, "-o", "yaml"];
      if (manifest.metadata.namespace) args.push("-n", manifest.metadata.namespace);
      const got = await cluster.run(args);
      assert.equal(got.code, 0, got.stderr);
      const live = YAML.parse(got.stdout) as KubeObject;
      assertSubset(live, manifest, manifest.kind);
      const lastApplied = JSON.parse(live.metadata.annotations![LAST_APPLIED]!);
      assertSubset(lastApplied, manifest, `${manifest.kind} last-applied`);
      assert.ok(!(LAST_APPLIED in (lastApplied.metadata.annotations ?? {})), "the annotation does not hold itself");
      saved.push({ type, yaml: got.stdout });
    }
    const second = await cluster.run(["apply", "-f", WEBAPP]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.split("\n").filter((l) => l.endsWith(" unchanged")).length, 6, second.stdout);
    for (const { type, yaml } of saved) {
      const file = join(cluster.dir, `${type}.yaml`);
      await Deno.writeTextFile(file, yaml);
      const again = await cluster.run(["apply", "-f", file]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, / (configured|unchanged)\n$/, "what get -o yaml prints can be applied back");
    }
  });
});

Deno.test("apply configures what changed and removes fields dropped from the manifest, keeping others' fields", async () => {
  await withCluster(async (cluster) => {
    await cluster.run(["apply", "-f", WEBAPP]);
    await cluster.admin.kind("apps/v1", "Deployment").patch("web", {
      metadata: { labels: { "owner": "someone-else" } },
    }, {
      namespace: "webapp",
    });
    const changed = YAML.parse(await Deno.readTextFile(join(WEBAPP, "deployment.yaml")));
    changed.spec.replicas = 3;
    delete changed.metadata.annotations;
    const file = join(cluster.dir, "web.yaml");
    await Deno.writeTextFile(file, YAML.stringify(changed));
    const dry = await cluster.run(["apply", "-f", file, "--dry-run=client"]);
    assert.equal(dry.stdout, "deployment.apps/web configured (dry run)\n");
    const server = await cluster.run(["apply", "-f", file, "--dry-run=server"]);
    assert.equal(server.stdout, "deployment.apps/web configured (server dry run)\n");
    const before = await cluster.admin.kind("apps/v1", "Deployment").get("web", { namespace: "webapp" });
    assert.equal((before.spec as { replicas: number }).replicas, 2, "dry runs change nothing");
    const applied = await cluster.run(["apply", "-f", file]);
    assert.equal(applied.stdout, "deployment.apps/web configured\n");
    const live = await cluster.admin.kind("apps/v1", "Deployment").get("web", { namespace: "webapp" });
    assert.equal((live.spec as { replicas: number }).replicas, 3);
    assert.equal(live.metadata.annotations?.["kubernetes.io/change-cause"], undefined, "dropped from the manifest");
    assert.equal(live.metadata.labels?.owner, "someone-else", "a field applied by nobody stays");
  });
});

Deno.test("apply reads standard input, URLs and directories (-R), and prunes what left the manifests", async () => {
  await withCluster(async (cluster) => {
    const cm = (name: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  labels:\n    set: demo\ndata:\n  k: v\n`;
    const stdin = await cluster.run(["apply", "-f", "-"], { stdin: `${cm("a")}---\n${cm("b")}` });
    assert.equal(stdin.stdout, "configmap/a created\nconfigmap/b created\n");

    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(cm("c")));
    try {
      const url = await cluster.run(["apply", "-f", `http://127.0.0.1:${server.addr.port}/c.yaml`]);
      assert.equal(url.code, 0, url.stderr);
      assert.equal(url.stdout, "configmap/c created\n");
    } finally {
      await server.shutdown();
    }

    const dir = join(cluster.dir, "manifests");
    await Deno.mkdir(join(dir, "nested"), { recursive: true });
    await Deno.writeTextFile(join(dir, "a.yaml"), cm("a"));
    await Deno.writeTextFile(join(dir, "nested", "d.json"), JSON.stringify(YAML.parse(cm("d"))));
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a manifest");
    const flat = await cluster.run(["apply", "-f", dir]);
    assert.equal(flat.stdout, "configmap/a unchanged\n");
    const recursive = await cluster.run(["apply", "-f", dir, "-R", "--prune", "-l", "set=demo"]);
    assert.equal(recursive.code, 0, recursive.stderr);
    assert.equal(
      recursive.stdout,
      "configmap/a unchanged\nconfigmap/d created\nconfigmap/b pruned\nconfigmap/c pruned\n",
    );
    const left = await cluster.run(["get", "cm", "-l", "set=demo", "-o", "name"]);
    assert.equal(left.stdout, "configmap/a\nconfigmap/d\n");
    const refused = await cluster.run(["apply", "-f", dir, "--prune"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--prune would consider every applied object: pass --all/);
  });
});

Deno.test("apply refuses an object whose namespace differs from -n, and reports invalid objects field by field", async () => {
  await withCluster(async (cluster) => {
    const mismatch = await cluster.run(["apply", "-f", join(WEBAPP, "configmap.yaml"), "-n", "default"]);
    assert.equal(mismatch.code, 2);
    assert.match(
      mismatch.stderr,
      /the namespace from the provided object "webapp" does not match the namespace "default"/,
    );
    const bad = join(cluster.dir, "bad.yaml");
    await Deno.writeTextFile(
      bad,
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  replicas: -1\n`,
    );
    const result = await cluster.run(["apply", "-f", bad]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "configmap/good created\n");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, "one line");
    assert.match(
      result.stderr,
      /^error: deployment\.apps\/broken \(from ".*bad\.yaml"\): Deployment\.apps "broken" is invalid: spec\.replicas: Invalid value: -1: must be greater than or equal to 0; spec\.selector: Required value; spec\.template: Required value: fix these fields and try again\n$/,
    );
  });
});

Deno.test("create -f creates objects and reports those that exist already", async () => {
  await withCluster(async (cluster) => {
    const file = join(WEBAPP, "configmap.yaml");
    await cluster.run(["create", "-f", join(WEBAPP, "00-namespace.yaml")]);
    const created = await cluster.run(["create", "-f", file]);
    assert.equal(created.stdout, "configmap/web-config created\n");
    const again = await cluster.run(["create", "-f", file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /configmaps "web-config" already exists: use `skiff apply` to change it/);
    const generated = await cluster.run(["create", "-f", "-", "-o", "name"], {
      stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: job-\n",
    });
    assert.match(generated.stdout, /^configmap\/job-[a-z0-9]{5}\n$/);
  });
});

Deno.test("apply --server-side lets the server merge", async () => {
  await withCluster(async (cluster) => {
    const result = await cluster.run(["apply", "--server-side", "-f", "-"], {
      stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: b\n",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "configmap/ssa serverside-applied\n");
    const live = await cluster.admin.kind("v1", "ConfigMap").get("ssa", { namespace: "default" });
    assert.deepEqual(live.data, { a: "b" });
  });
});

Deno.test("apply of many objects shows progress on a terminal's standard error, and none in a pipe", async () => {
  await withCluster(async (cluster) => {
    const tty = await cluster.run(["apply", "-f", WEBAPP], { terminal: true, env: { TERM: "xterm" } });
    assert.equal(tty.code, 0, tty.stderr);
    assert.ok(tty.stderr.includes("\r\x1b[Kapplying 1/6: namespace/webapp"), tty.stderr);
    assert.ok(tty.stderr.includes("\r\x1b[Kapplying 6/6: service/web"), tty.stderr);
    assert.ok(tty.stderr.endsWith("\r\x1b[K"), "the status line is cleared at the end");
    assert.equal(tty.stdout.split("\n").length, 7);
    const piped = await cluster.run(["apply", "-f", WEBAPP]);
    assert.equal(piped.stderr, "");
  });
});
