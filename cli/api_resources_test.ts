import assert from "node:assert/strict";
import { captureIo } from "./_test_harness.ts";
import { runCli } from "./main.ts";

async function run(args: string[]) {
  const { io, stdout } = captureIo();
  const code = await runCli(args, io);
  return { code, stdout: stdout() };
}

Deno.test("api-resources lists types with short names, filtered by scope and group", async () => {
  const all = await run(["api-resources"]);
  assert.equal(all.code, 0);
  assert.match(all.stdout, /^NAME +SHORTNAMES +APIVERSION +NAMESPACED +KIND\n/);
  assert.match(all.stdout, /\ndeployments +deploy +apps\/v1 +true +Deployment\n/);
  const cluster = await run(["api-resources", "--namespaced=false", "-o", "name"]);
  assert.ok(cluster.stdout.includes("nodes\n"));
  assert.ok(!cluster.stdout.includes("pods\n"));
  const apps = await run(["api-resources", "--api-group", "apps", "--no-headers", "-o", "wide"]);
  assert.equal(apps.stdout.trimEnd().split("\n").length, 4);
  assert.match(apps.stdout, /\[create delete deletecollection get list patch update watch\] +all/);
});
