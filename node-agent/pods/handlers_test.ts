import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Container } from "@skiff/api";
import { FakeRuntime } from "../runtime/mod.ts";
import { type HandlerTarget, resolvePort, runHandler } from "./handlers.ts";

const container: Container = { name: "app", ports: [{ name: "http", containerPort: 8080 }] };

async function target(fields: Partial<HandlerTarget> = {}): Promise<HandlerTarget> {
  const runtime = new FakeRuntime({
    images: ["busybox"],
    exec: (_id, command) =>
      command[0] === "check"
        ? { exitCode: Number(command[1]), stdout: `exit ${command[1]}\n`, stderr: "" }
        : { exitCode: 127, stdout: "", stderr: "not found" },
  });
  await runtime.createContainer({ id: "c1", image: "busybox", labels: {} });
  await runtime.startContainer("c1");
  return { runtime, containerId: "c1", container, podIP: "127.0.0.1", timeoutMs: 1000, ...fields };
}

Deno.test("runHandler() with exec succeeds on exit 0 and reports the output", async () => {
  const t = await target();
  assert.deepEqual(await runHandler({ exec: { command: ["check", "0"] } }, t), { success: true, output: "exit 0" });
  assert.deepEqual(await runHandler({ exec: { command: ["check", "3"] } }, t), { success: false, output: "exit 3" });
  assert.equal((await runHandler({ exec: { command: [] } }, t)).success, false);
});

Deno.test("runHandler() with httpGet succeeds on 2xx and 3xx, fails on others and on refused connections", async () => {
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(req.headers);
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path === "/moved") return new Response(null, { status: 302, headers: { location: "/healthz" } });
    return new Response("broken", { status: 500 });
  });
  try {
    const port = server.addr.port;
    const t = await target();
    const get = (path: string) =>
      runHandler({ httpGet: { path, port, httpHeaders: [{ name: "X-Probe", value: "1" }] } }, t);
    assert.deepEqual(await get("/healthz"), { success: true, output: "ok" });
    assert.equal((await get("/moved")).success, true);
    assert.deepEqual(await get("/fail"), { success: false, output: "HTTP probe failed with statuscode: 500" });
    assert.equal(seen[0]!.get("user-agent"), "kube-probe/1.32");
    assert.equal(seen[0]!.get("x-probe"), "1");
  } finally {
    await server.shutdown();
  }
  const refused = await runHandler({ httpGet: { path: "/", port: 1 } }, await target());
  assert.equal(refused.success, false);
  assert.match(refused.output, /^Get "http:\/\/127\.0\.0\.1:1\/": /);
});

Deno.test("runHandler() with tcpSocket succeeds when the port accepts a connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    assert.deepEqual(await runHandler({ tcpSocket: { port } }, await target()), { success: true, output: "" });
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
  const refused = await runHandler({ tcpSocket: { port: 1 } }, await target());
  assert.equal(refused.success, false);
  assert.match(refused.output, /^dial tcp 127\.0\.0\.1:1: /);
});

Deno.test("runHandler() with grpc asks the standard health service", async () => {
  const server = new Server();
  let serving = 1;
  server.addService({
    Check: {
      path: "/grpc.health.v1.Health/Check",
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: Buffer) => v,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (status: number) => Buffer.from([0x08, status]),
      responseDeserialize: (b: Buffer) => b,
    },
  }, { Check: (_call: unknown, callback: (error: null, value: number) => void) => callback(null, serving) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => e ? reject(e) : resolve(p))
  );
  try {
    const t = await target();
    assert.deepEqual(await runHandler({ grpc: { port } }, t), { success: true, output: "" });
    serving = 2;
    assert.deepEqual(await runHandler({ grpc: { port, service: "db" } }, t), {
      success: false,
      output: 'service unhealthy (responded with "NOT_SERVING")',
    });
  } finally {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }
});

Deno.test("runHandler() with sleep waits on the given clock", async () => {
  const slept: number[] = [];
  const t = await target({ sleep: (ms) => Promise.resolve(void slept.push(ms)) });
  assert.deepEqual(await runHandler({ sleep: { seconds: 3 } }, t), { success: true, output: "" });
  assert.deepEqual(slept, [3000]);
});

Deno.test("resolvePort() takes numbers and the names of the container's ports", () => {
  assert.equal(resolvePort(80, container), 80);
  assert.equal(resolvePort("8081", container), 8081);
  assert.equal(resolvePort("http", container), 8080);
  assert.throws(() => resolvePort("metrics", container), /Port name "metrics" is not one of container "app"'s ports/);
  assert.throws(() => resolvePort(70000, container), /Invalid port 70000/);
});
