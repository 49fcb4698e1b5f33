import assert from "node:assert/strict";
import { captureIo, serveInFront, type TestCluster, withHomelab } from "./_test_harness.ts";
import { runCli } from "./main.ts";
import { Channel, EXEC_PROTOCOL, exitCodeFromStatus } from "./_exec_stream.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(channel: number, text: string): Uint8Array {
  return new Uint8Array([channel, ...encoder.encode(text)]);
}

/** What the fake saw of one session. */
interface Session {
  url: URL;
  resizes: { Width: number; Height: number }[];
  stdin: string;
}

/**
 * A stand-in for the node agent's pods/exec endpoint (the agent issue
 * delivers the real one): it speaks v5.channel.k8s.io as the kubelet does
 * and runs three pretend commands, `echo`, `cat` (echoes stdin, upper-cased,
 * until the client closes it) and `fail` (exits 3). Every other request
 * reaches the real API server.
 */
function fakeExec(sessions: Session[]) {
  return (req: Request): Response | undefined => {
    const url = new URL(req.url);
    if (!/^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/exec$/.test(url.pathname)) return undefined;
    if (url.searchParams.get("container") === "db") {
      return Response.json({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "BadRequest",
        code: 400,
        message: "container db is not valid for pod web-1",
      }, { status: 400 });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(EXEC_PROTOCOL)) return new Response("no protocol", { status: 400 });
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: EXEC_PROTOCOL });
    socket.binaryType = "arraybuffer";
    const session: Session = { url, resizes: [], stdin: "" };
    sessions.push(session);
    const command = url.searchParams.getAll("command");
    const finish = (status: Record<string, unknown>) => {
      socket.send(frame(Channel.error, JSON.stringify({ metadata: {}, ...status })));
      socket.close(1000);
    };
    const tty = url.searchParams.get("tty") === "true";
    const run = () => {
      if (command[0] === "echo") {
        socket.send(frame(Channel.stdout, command.slice(1).join(" ") + "\n"));
        finish({ status: "Success" });
      } else if (command[0] === "fail") {
        socket.send(frame(Channel.stderr, "boom\n"));
        finish({
          status: "Failure",
          reason: "NonZeroExitCode",
          message: "command terminated with non-zero exit code: exit status 3",
          details: { causes: [{ reason: "ExitCode", message: "3" }] },
        });
      }
    };
    // With a terminal, the command starts once the client has sent the terminal size.
    socket.onopen = () => tty || run();
    socket.onmessage = (event) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      const payload = decoder.decode(bytes.subarray(1));
      if (bytes[0] === Channel.resize) {
        session.resizes.push(JSON.parse(payload));
        if (session.resizes.length === 1) run();
      }
      if (bytes[0] === Channel.stdin) {
        session.stdin += payload;
        socket.send(frame(Channel.stdout, payload.toUpperCase()));
      }
      if (bytes[0] === Channel.close && bytes[1] === Channel.stdin) finish({ status: "Success" });
    };
    return response;
  };
}

async function withFakeExec(
  fn: (cluster: TestCluster, env: Record<string, string>, sessions: Session[]) => Promise<void>,
) {
  await withHomelab(async (cluster) => {
    const sessions: Session[] = [];
    const front = await serveInFront(cluster, fakeExec(sessions));
    try {
      await fn(cluster, { KUBECONFIG: front.kubeconfig }, sessions);
    } finally {
      await front.stop();
    }
  });
}

Deno.test("exec runs a command over v5.channel.k8s.io and prints its output", async () => {
  await withFakeExec(async (cluster, env, sessions) => {
    const result = await cluster.run(["exec", "web-1", "--", "echo", "hello", "-n"], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello -n\n");
    const q = sessions[0]!.url.searchParams;
    assert.deepEqual(q.getAll("command"), ["echo", "hello", "-n"]);
    assert.equal(q.get("container"), "web");
    assert.equal(q.get("stdin"), "false");
    assert.equal(q.get("stdout"), "true");
    assert.equal(q.get("stderr"), "true");
    assert.equal(q.get("tty"), "false");
  });
});

Deno.test("exec -i sends standard input and closes it with the v5 close frame", async () => {
  await withFakeExec(async (cluster, env, sessions) => {
    const result = await cluster.run(["exec", "-i", "web-1", "--", "cat"], { env, stdin: "abc\ndef\n" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "ABC\nDEF\n");
    assert.equal(sessions[0]!.stdin, "abc\ndef\n");
  });
});

Deno.test("exec exits with the remote command's exit code and reports it", async () => {
  await withFakeExec(async (cluster, env) => {
    const result = await cluster.run(["exec", "web-2", "-c", "sidecar", "--", "fail"], { env });
    assert.equal(result.code, 3);
    assert.equal(result.stderr, "boom\ncommand terminated with exit code 3\n");
    const refused = await cluster.run(["exec", "web-2", "-c", "db", "--", "echo"], { env });
    assert.equal(refused.code, 2);
    const notValid = await cluster.run(["exec", "deploy/none", "--", "echo"], { env });
    assert.equal(notValid.code, 1);
    assert.match(notValid.stderr, /deployments\.apps "none" not found/);
  });
});

Deno.test("exec -t sends the terminal size first", async () => {
  await withFakeExec(async (cluster, env, sessions) => {
    const captured = captureIo({ env: { ...env, HOME: cluster.dir } });
    captured.io.terminalSize = () => ({ columns: 120, rows: 40 });
    const code = await runCli(["exec", "-t", "web-1", "--", "echo", "hi"], captured.io);
    assert.equal(code, 0, captured.stderr());
    assert.deepEqual(sessions[0]!.resizes, [{ Width: 120, Height: 40 }]);
    assert.equal(sessions[0]!.url.searchParams.get("tty"), "true");
    assert.equal(sessions[0]!.url.searchParams.get("stderr"), "false", "a terminal merges stderr into stdout");
  });
});

Deno.test("exitCodeFromStatus reads the exit code of the error channel's Status", () => {
  assert.equal(exitCodeFromStatus({ status: "Success" }), 0);
  assert.equal(
    exitCodeFromStatus({
      status: "Failure",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "127" }] },
    }),
    127,
  );
  assert.throws(
    () => exitCodeFromStatus({ status: "Failure", reason: "InternalError", message: "runtime gone" }),
    /runtime gone/,
  );
});
