import assert from "node:assert/strict";
import { captureIo } from "./_test_harness.ts";
import { program, runCli } from "./main.ts";
import { CLI_VERSION } from "./_version.ts";

Deno.test("program() keeps `up` and every admin command", () => {
  const names = program({ io: captureIo().io }).commands.map((c) => c.name());
  for (
    const name of [
      "up",
      "get",
      "describe",
      "apply",
      "create",
      "delete",
      "edit",
      "label",
      "annotate",
      "scale",
      "rollout",
      "logs",
      "exec",
      "top",
      "cordon",
      "uncordon",
      "drain",
      "events",
      "api-resources",
      "version",
      "completion",
    ]
  ) {
    assert.ok(names.includes(name), name);
  }
});

Deno.test("runCli() prints help and the version through the given output, with exit code 0", async () => {
  const help = captureIo();
  assert.equal(await runCli(["up", "--help"], help.io), 0);
  assert.match(help.stdout(), /^Usage: skiff up \[options\]/);
  const version = captureIo();
  assert.equal(await runCli(["--version"], version.io), 0);
  assert.equal(version.stdout(), `${CLI_VERSION}\n`);
});

Deno.test("program().parseAsync() runs a command in process with output captured", async () => {
  const { io, stdout } = captureIo();
  await program({ io }).parseAsync(["version", "--client"], { from: "user" });
  assert.equal(stdout(), `Client Version: v${CLI_VERSION}\n`);
});
