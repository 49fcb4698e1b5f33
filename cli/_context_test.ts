import assert from "node:assert/strict";
import { join } from "node:path";
import YAML from "yaml";
import { at, withHomelab } from "./_test_harness.ts";

Deno.test("the kubeconfig comes from --kubeconfig, else $KUBECONFIG, else ~/.kube/config; contexts pick the namespace", async () => {
  await withHomelab(async (cluster, clock) => {
    const admin = YAML.parse(await Deno.readTextFile(cluster.kubeconfig));
    const context = admin.contexts[0].context;
    admin.contexts = [
      { name: "lab", context: { ...context, namespace: "kube-system" } },
      { name: "home", context: { ...context } },
    ];
    admin["current-context"] = "lab";
    await Deno.mkdir(join(cluster.dir, ".kube"));
    await Deno.writeTextFile(join(cluster.dir, ".kube", "config"), YAML.stringify(admin));
    const home = { ...at(clock), env: { KUBECONFIG: "" } };

    const current = await cluster.run(["get", "pods", "-o", "name"], home);
    assert.equal(current.code, 0, current.stderr);
    assert.equal(current.stdout, "pod/backup-28912\n", "~/.kube/config's current context, namespace kube-system");
    const other = await cluster.run(["get", "pods", "-o", "name", "--context", "home"], home);
    assert.equal(other.stdout, "pod/db-0\npod/web-1\npod/web-2\n", "a context without a namespace uses default");
    const flag = await cluster.run(["get", "pods", "-o", "name", "-n", "default"], home);
    assert.equal(flag.stdout, "pod/db-0\npod/web-1\npod/web-2\n", "-n wins over the context's namespace");
    const missing = await cluster.run(["get", "pods", "--context", "work"], home);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Context "work" is not defined in ".*config": available contexts: "lab", "home"/);
    const explicit = await cluster.run(["get", "pods", "-o", "name", "--kubeconfig", cluster.kubeconfig], home);
    assert.equal(explicit.stdout, "pod/db-0\npod/web-1\npod/web-2\n", "--kubeconfig wins over ~/.kube/config");
    const fromEnv = await cluster.run(["get", "pods", "-A", "-o", "name"], at(clock));
    assert.equal(fromEnv.stdout.split("\n").length, 5, "$KUBECONFIG");
  });
});
