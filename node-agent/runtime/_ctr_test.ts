import assert from "node:assert/strict";
import { CommandError, type Exec, type ExecOptions } from "../_exec.ts";
import {
  Ctr,
  ctrMessage,
  execFailure,
  isNotFound,
  parseDeleteExitCode,
  parseEventLine,
  parseHumanBytes,
  parseImageList,
  parseMetrics,
  parseServerVersion,
  parseTaskList,
  PullProgressParser,
  runArgs,
} from "./_ctr.ts";

/** An Exec that records command lines and answers from `answers`. */
function recorder(answers: Record<string, { code?: number; stdout?: string; stderr?: string }> = {}) {
  const calls: { cmd: readonly string[]; options: ExecOptions | undefined }[] = [];
  const exec: Exec = (cmd, options) => {
    calls.push({ cmd, options });
    const answer = Object.entries(answers).find(([k]) => cmd.join(" ").includes(k))?.[1] ?? {};
    const result = { code: answer.code ?? 0, stdout: answer.stdout ?? "", stderr: answer.stderr ?? "" };
    if (result.code !== 0 && options?.check !== false) return Promise.reject(new CommandError(cmd, result));
    return Promise.resolve(result);
  };
  return { exec, calls };
}

Deno.test("Ctr runs every command as ctr -a <socket> -n <namespace>", async () => {
  const { exec, calls } = recorder();
  const ctr = new Ctr({ address: "/run/c.sock", namespace: "skiff", exec });
  await ctr.kill("c1", "SIGKILL", { execId: "e1" });
  await ctr.runDetached("c1", {
    specPath: "/s/c1.json",
    logUri: "file:///s/fifo/c1",
    labels: { "skiff.dev/pod-name": "web", "a": "b=c" },
    pidFile: "/s/pids/c1",
  });
  assert.deepEqual(calls.map((c) => c.cmd), [
    ["ctr", "-a", "/run/c.sock", "-n", "skiff", "tasks", "kill", "-s", "SIGKILL", "--exec-id", "e1", "c1"],
    [
      "ctr",
      "-a",
      "/run/c.sock",
      "-n",
      "skiff",
      "run",
      "-d",
      "--config",
      "/s/c1.json",
      "--log-uri",
      "file:///s/fifo/c1",
      "--pid-file",
      "/s/pids/c1",
      "--label",
      "skiff.dev/pod-name=web",
      "--label",
      "a=b=c",
      "c1",
    ],
  ]);
});

Deno.test("runArgs() sends output to /dev/null when there is no log", () => {
  assert.deepEqual(runArgs("c", { specPath: "/s.json", labels: {}, pidFile: "/p" }), [
    "run",
    "-d",
    "--config",
    "/s.json",
    "--null-io",
    "--pid-file",
    "/p",
    "c",
  ]);
});

Deno.test("Ctr.exec() returns the command's exit code, and 127 when the program does not exist", async () => {
  const { exec, calls } = recorder({
    "exec-a": { code: 3, stdout: "out\n", stderr: "err\n" },
    "exec-b": {
      code: 1,
      stderr:
        'ctr: OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown\n',
    },
    "exec-c": { code: 1, stderr: "ctr: cannot exec in a stopped state: unknown\n" },
  });
  const ctr = new Ctr({ address: "/s", namespace: "n", exec });
  assert.deepEqual(await ctr.exec("c", "exec-a", ["sh", "-c", "x"], { stdin: "in" }), {
    code: 3,
    stdout: "out\n",
    stderr: "err\n",
  });
  assert.equal(calls[0]!.options?.stdin, "in");
  const missing = await ctr.exec("c", "exec-b", ["nope"]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /executable file not found/);
  await assert.rejects(ctr.exec("c", "exec-c", ["true"]), /stopped state/);
});

Deno.test("execFailure() tells ctr's own failures from the command's exit code", () => {
  assert.equal(execFailure({ code: 1, stdout: "", stderr: "plain failure\n" }), undefined);
  assert.equal(execFailure({ code: 0, stdout: "", stderr: "" }), undefined);
  assert.equal(
    execFailure({ code: 1, stdout: "", stderr: 'ctr: exec: "/x": stat /x: no such file or directory: unknown' }),
    127,
  );
  assert.equal(execFailure({ code: 1, stdout: "", stderr: "ctr: exec /x: permission denied: unknown" }), 126);
  assert.equal(
    execFailure({ code: 1, stdout: "", stderr: 'ctr: container "x" in namespace "n": not found' }),
    "not-started",
  );
});

Deno.test("isNotFound() and ctrMessage() read ctr's error output", () => {
  const error = new CommandError(["ctr"], {
    code: 1,
    stderr: 'time="…" level=error msg="failed to load task"\nctr: container "x" in namespace "n": not found\n',
  });
  assert.equal(isNotFound(error), true);
  assert.equal(ctrMessage(error), 'container "x" in namespace "n": not found');
  assert.equal(isNotFound(new CommandError(["ctr"], { code: 1, stderr: "ctr: permission denied" })), false);
  assert.equal(isNotFound(new Error("not found")), false);
});

Deno.test("parseServerVersion() reads the server's version from ctr version", () => {
  const text = "Client:\n  Version:  1.6.20~ds1\n  Revision: x\n\nServer:\n  Version:  1.6.21\n  Revision: y\n";
  assert.equal(parseServerVersion(text), "1.6.21");
  assert.throws(() => parseServerVersion("Client:\n  Version: 1\n"), /Cannot read the containerd version/);
});

Deno.test("parseTaskList() reads ctr tasks ls", () => {
  const text = "TASK    PID      STATUS    \nweb     19500    RUNNING\njob     0        STOPPED\n";
  assert.deepEqual(parseTaskList(text), [
    { id: "web", pid: 19500, status: "RUNNING" },
    { id: "job", pid: 0, status: "STOPPED" },
  ]);
  assert.deepEqual(parseTaskList("TASK PID STATUS\n"), []);
});

Deno.test("parseImageList() reads ctr images ls, whose size column holds a space", () => {
  const digest = `sha256:${"5".repeat(64)}`;
  const text = "REF TYPE DIGEST SIZE PLATFORMS LABELS \n" +
    `docker.io/library/busybox:latest application/vnd.oci.image.manifest.v1+json ${digest} 1003.2 KiB linux/amd64 -      \n` +
    `docker.io/library/alpine:3 application/vnd.oci.image.index.v1+json ${digest} 3.3 MiB linux/amd64,linux/arm64/v8 - \n`;
  assert.deepEqual(parseImageList(text), [
    {
      ref: "docker.io/library/busybox:latest",
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      platforms: ["linux/amd64"],
    },
    {
      ref: "docker.io/library/alpine:3",
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest,
      platforms: ["linux/amd64", "linux/arm64/v8"],
    },
  ]);
});

Deno.test("parseEventLine() reads ctr events lines", () => {
  assert.deepEqual(
    parseEventLine(
      '2026-11-23 23:47:22.722595313 +0000 UTC skiff /tasks/exit {"container_id":"ex1","id":"ex1","pid":22447,"exit_status":3,"exited_at":"2026-11-23T23:47:22.722544096Z"}',
    ),
    {
      namespace: "skiff",
      topic: "/tasks/exit",
      data: { container_id: "ex1", id: "ex1", pid: 22447, exit_status: 3, exited_at: "2026-11-23T23:47:22.722544096Z" },
    },
  );
  assert.deepEqual(parseEventLine('2026-11-23 23:47:22.9 +0000 UTC skiff /tasks/oom {"container_id":"o"}')?.data, {
    container_id: "o",
  });
  assert.equal(parseEventLine('time="x" level=warning msg="y"'), undefined);
  assert.equal(parseEventLine("2026-11-23 23:47:22.9 +0000 UTC skiff /tasks/exit {broken"), undefined);
});

Deno.test("parseDeleteExitCode() reads the exit code ctr tasks rm warns about", () => {
  assert.equal(parseDeleteExitCode('time="…" level=warning msg="task oom1 exit with non-zero exit code 137"\n'), 137);
  assert.equal(parseDeleteExitCode(""), 0);
});

Deno.test("parseHumanBytes() reads ctr's sizes, truncated ones included", () => {
  assert.equal(parseHumanBytes("808.0 B"), 808);
  assert.equal(parseHumanBytes("808.0 "), 808);
  assert.equal(parseHumanBytes("1.0 MiB"), 1024 * 1024);
  assert.equal(parseHumanBytes("1002.4 K"), Math.round(1002.4 * 1024));
  assert.equal(parseHumanBytes("x"), undefined);
});

Deno.test("PullProgressParser turns ctr's progress frames into byte counts", () => {
  const bar = "|\x1b[32m++++++\x1b[0m|";
  const layer = `layer-sha256:${"0".repeat(64)}`;
  const config = `config-sha256:${"7".repeat(64)}`;
  const parser = new PullProgressParser();
  const frame = (lines: string[]) => {
    let result;
    for (const line of [...lines, "elapsed: 0.2 s   total:  808.0  (3.9 KiB/s)"]) result = parser.push(line);
    return result;
  };
  assert.deepEqual(
    frame([
      "localhost:5055/library/busybox:latest:   resolved   " + bar,
      `${config}:   done   ${bar}`,
      `${layer}:    downloading    |\x1b[32m\x1b[0m------|    0.0 B/1002.4 KiB`,
    ]),
    { doneBytes: 0, totalBytes: Math.round(1002.4 * 1024) },
  );
  assert.deepEqual(frame([`${layer}:    downloading    |++---|    512.0 K/1002.4 KiB`]), {
    doneBytes: 512 * 1024,
    totalBytes: Math.round(1002.4 * 1024),
  });
  assert.deepEqual(frame([`${layer}:    done    ${bar}`]), {
    doneBytes: Math.round(1002.4 * 1024),
    totalBytes: Math.round(1002.4 * 1024),
  });
  assert.equal(parser.push("unpacking linux/amd64 sha256:abc...done"), undefined);
});

Deno.test("PullProgressParser leaves the total out while a blob's size is unknown", () => {
  const parser = new PullProgressParser();
  parser.push(`layer-sha256:${"1".repeat(64)}:  waiting  |------|`);
  assert.deepEqual(parser.push("elapsed: 0.1 s  total: 0.0 B (0.0 B/s)"), { doneBytes: 0 });
});

Deno.test("parseMetrics() reads cgroup v1 and v2 task metrics", () => {
  assert.deepEqual(
    parseMetrics({
      cpu: { usage: { total: 41663178 } },
      memory: { usage: { usage: 10_000_000 }, total_inactive_file: 4_000_000 },
    }),
    { cpuUsageNanoseconds: 41663178, memoryUsageBytes: 10_000_000, memoryWorkingSetBytes: 6_000_000 },
  );
  assert.deepEqual(
    parseMetrics({ cpu: { usage_usec: 1500 }, memory: { usage: 8192, inactive_file: 10_000 } }),
    { cpuUsageNanoseconds: 1_500_000, memoryUsageBytes: 8192, memoryWorkingSetBytes: 0 },
  );
  assert.throws(() => parseMetrics({ pids: {} }), /no memory usage/);
});
