import assert from "node:assert/strict";
import { CommandError, commandLine, isCommandNotFound, run, withParentDeathSignal } from "./_exec.ts";
import { createTempDir, eventually, requireTools } from "../test/support/mod.ts";

Deno.test("run() returns the exit code and output of a command", async () => {
  const result = await run(["sh", "-c", "echo out; echo err >&2"]);
  assert.deepEqual(result, { code: 0, stdout: "out\n", stderr: "err\n" });
});

Deno.test("run() writes stdin and adds env to the agent's environment", async () => {
  const result = await run(["sh", "-c", 'cat; echo "$SKIFF_X"; test -n "$PATH"'], {
    stdin: "in\n",
    env: { SKIFF_X: "x" },
  });
  assert.equal(result.stdout, "in\nx\n");
});

Deno.test("run() streams a large input and output without deadlocking", async () => {
  const big = "y".repeat(1 << 20);
  const result = await run(["cat"], { stdin: big });
  assert.equal(result.stdout.length, big.length);
});

Deno.test("run() with a non-zero exit throws CommandError naming the command and its stderr", async () => {
  const error = await run(["sh", "-c", "echo broken pipe dream >&2; exit 3"]).then(
    () => assert.fail("expected an error"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof CommandError);
  assert.equal(error.code, 3);
  assert.equal(error.stderr, "broken pipe dream\n");
  assert.equal(error.timedOut, false);
  assert.deepEqual(error.cmd, ["sh", "-c", "echo broken pipe dream >&2; exit 3"]);
  assert.match(error.message, /^Command "sh -c echo broken.*" failed with exit code 3: broken pipe dream$/);
});

Deno.test("run() with check: false returns a non-zero exit instead of throwing", async () => {
  const result = await run(["sh", "-c", "echo no >&2; exit 2"], { check: false });
  assert.deepEqual(result, { code: 2, stdout: "", stderr: "no\n" });
});

Deno.test("run() of a missing program throws CommandError saying it could not start", async () => {
  await assert.rejects(run(["skiff-no-such-program"]), (error: unknown) => {
    assert.ok(error instanceof CommandError);
    assert.equal(error.code, undefined);
    assert.equal(error.message, 'Command "skiff-no-such-program" could not start: command not found');
    return true;
  });
});

Deno.test("run() kills a command that runs past timeoutMs, even with check: false", async () => {
  const started = Date.now();
  await assert.rejects(run(["sleep", "5"], { timeoutMs: 100, check: false }), (error: unknown) => {
    assert.ok(error instanceof CommandError);
    assert.equal(error.timedOut, true);
    assert.equal(error.message, 'Command "sleep 5" timed out after 100 ms');
    return true;
  });
  assert.ok(Date.now() - started < 4_000, "the 5 s sleep was not waited for");
});

Deno.test("run() refuses an empty command and invalid options with TypeError", async () => {
  await assert.rejects(run([]), TypeError);
  await assert.rejects(run(["true"], { netns: "a/b" }), /Invalid option "netns": "a\/b"/);
  await assert.rejects(run(["true"], { timeoutMs: 0 }), /Invalid option "timeoutMs": 0/);
});

Deno.test("commandLine() prefixes ip netns exec only when netns is set", () => {
  assert.deepEqual(commandLine(["ip", "link"]), ["ip", "link"]);
  assert.deepEqual(commandLine(["ip", "link"], { netns: "n1" }), ["ip", "netns", "exec", "n1", "ip", "link"]);
});

Deno.test({
  name: "run() with netns runs the command inside that network namespace",
  ...requireTools(["ip"], { root: true }),
  fn: async () => {
    const netns = `skiff-exec-test-${crypto.randomUUID().slice(0, 8)}`;
    await run(["ip", "netns", "add", netns]);
    try {
      const inside = await run(["ip", "-j", "link", "show"], { netns });
      const names = (JSON.parse(inside.stdout) as { ifname: string }[]).map((link) => link.ifname);
      assert.deepEqual(names, ["lo"]);
    } finally {
      await run(["ip", "netns", "del", netns]);
    }
  },
});

Deno.test("isCommandNotFound() recognises a missing program by the error's cause", async () => {
  const error = await run(["skiff-no-such-program"]).catch((e) => e);
  assert.ok(isCommandNotFound(error));
  assert.ok(!isCommandNotFound(new Error("other")));
});

Deno.test("withParentDeathSignal() runs the command under setpriv --pdeathsig KILL when setpriv is on the path", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-pdeath-" });
  await Deno.writeTextFile(tmp.join("setpriv"), "#!/bin/sh\n", { mode: 0o755 });
  assert.deepEqual(withParentDeathSignal(["ctr", "events"], { searchPath: `/nonexistent:${tmp.path}` }), [
    tmp.join("setpriv"),
    "--pdeathsig",
    "KILL",
    "--",
    "ctr",
    "events",
  ]);
});

Deno.test("withParentDeathSignal() without setpriv on the path leaves the command as it is", async () => {
  await using tmp = await createTempDir({ prefix: "skiff-pdeath-" });
  assert.deepEqual(withParentDeathSignal(["ctr", "events"], { searchPath: tmp.path }), ["ctr", "events"]);
});

Deno.test({
  name: "withParentDeathSignal() makes the command die when its parent is killed with SIGKILL",
  ...requireTools(["setpriv", "sleep"]),
  fn: async () => {
    // A shell starts the command in the background and prints its pid; the shell is the parent that dies.
    const script = `${withParentDeathSignal(["sleep", "300"]).join(" ")} & echo $!; wait`;
    const parent = new Deno.Command("sh", { args: ["-c", script], stdout: "piped", stderr: "null" }).spawn();
    const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const pid = Number(text.trim());
    assert.ok(pid > 0, `the shell printed no pid: ${JSON.stringify(text)}`);
    try {
      // Until setpriv has set the signal and become sleep, a dead parent would go unnoticed.
      await eventually("setpriv to exec sleep", () => commandOf(pid) === "sleep", { timeoutMs: 5_000 });
      parent.kill("SIGKILL");
      await parent.status;
      await eventually(`sleep (pid ${pid}) to die with its parent`, () => !processAlive(pid), { timeoutMs: 5_000 });
    } finally {
      reader.releaseLock();
      await parent.stdout.cancel().catch(() => {});
      if (processAlive(pid)) Deno.kill(pid, "SIGKILL");
    }
  },
});

/** Whether `pid` runs (a zombie waiting to be reaped does not). */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** The program name of `pid` (empty once it is gone). */
function commandOf(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}
