import assert from "node:assert/strict";
import https from "node:https";
import { join } from "node:path";
// @ts-types="@types/ws"
import WebSocket from "ws";
import { APISERVER_CLIENT_COMMON_NAME } from "@skiff/api";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueCertificate,
} from "../../control-plane/pki/mod.ts";
import { buildBusyboxImage } from "../../test/fixtures/build_busybox.ts";
import { createTempDir, requireTools, startContainerd } from "../../test/support/mod.ts";
import { containerLabels, type ContainerSpec } from "../runtime/mod.ts";
import { dispose, eventually, exited, newRuntime } from "../runtime/_test_support.ts";
import { startAgentServer } from "./agent_server.ts";

const needs = requireTools(["containerd", "ctr", "runc", "mount", "umount", "script", "stty"], { root: true });

interface ClientTls {
  ca: string;
  cert?: string;
  key?: string;
}

/** GETs `path` from the agent with `tls`: status, content type and body; or the connection error. */
function get(port: number, path: string, tls: ClientTls): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path, ...tls, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => body += chunk);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Follows `path`, calling `onText` with all the text so far until it returns true; then hangs up. */
function follow(port: number, path: string, tls: ClientTls, onText: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path, ...tls, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
        if (onText(text)) {
          req.destroy();
          resolve(text);
        }
      });
      res.on("end", () => resolve(text));
    });
    req.on("error", (error) => req.destroyed ? undefined : reject(error));
    req.end();
  });
}

interface ExecOutcome {
  protocol: string;
  stdout: string;
  stderr: string;
  status: Record<string, unknown> | undefined;
}

/** Runs an exec session over the agent's WebSocket endpoint. */
function execSession(
  port: number,
  query: string,
  tls: ClientTls,
  options: { protocols?: string[]; input?: string[]; closeStdin?: boolean; size?: { Width: number; Height: number } } =
    {},
): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      `wss://127.0.0.1:${port}/exec/default/web/app?${query}`,
      options.protocols ?? ["v5.channel.k8s.io"],
      tls,
    );
    const out: ExecOutcome = { protocol: "", stdout: "", stderr: "", status: undefined };
    const decoder = new TextDecoder();
    ws.on("open", () => {
      out.protocol = ws.protocol;
      const encoder = new TextEncoder();
      if (options.size) ws.send(new Uint8Array([4, ...encoder.encode(JSON.stringify(options.size))]));
      for (const text of options.input ?? []) ws.send(new Uint8Array([0, ...encoder.encode(text)]));
      if (options.closeStdin) ws.send(new Uint8Array([255, 0]));
    });
    ws.on("message", (data: Buffer) => {
      const bytes = new Uint8Array(data);
      const text = decoder.decode(bytes.subarray(1));
      if (bytes[0] === 1) out.stdout += text;
      if (bytes[0] === 2) out.stderr += text;
      if (bytes[0] === 3) out.status = JSON.parse(text);
    });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => body += chunk);
      res.on("end", () => reject(new Error(`HTTP ${res.statusCode}: ${body}`)));
    });
    ws.on("error", reject);
    ws.on("close", () => resolve(out));
  });
}

async function clientCertificates(ca: CertificateAuthority) {
  const apiserver = await issueCertificate(ca, { commonName: APISERVER_CLIENT_COMMON_NAME, usages: "client", days: 1 });
  const intruder = await issueCertificate(ca, { commonName: "system:node:pi-3", usages: "client", days: 1 });
  const otherCa = await createCertificateAuthority();
  const stranger = await issueCertificate(otherCa, {
    commonName: APISERVER_CLIENT_COMMON_NAME,
    usages: "client",
    days: 1,
  });
  return { apiserver, intruder, stranger };
}

Deno.test({
  name: "startAgentServer() serves logs and exec of real containers to the API server's certificate only",
  ...needs,
  fn: async (t) => {
    const image = await buildBusyboxImage();
    await using containerd = await startContainerd();
    await using tmp = await createTempDir({ prefix: "skiff-agent-server-" });
    const { runtime, stateDir } = await newRuntime(containerd, image);
    const ca = await createCertificateAuthority();
    const serving = await issueCertificate(ca, {
      commonName: "pi-3",
      sans: ["127.0.0.1"],
      usages: "server",
      days: 1,
    });
    const clients = await clientCertificates(ca);
    const server = await startAgentServer({ runtime, port: 0, hostname: "127.0.0.1", log: () => {} });
    server.setCertificate({ ...serving, caPem: ca.certPem, notAfter: new Date(Date.now() + 86_400_000) });
    const port = server.port;
    const tls: ClientTls = { ca: ca.certPem, cert: clients.apiserver.certPem, key: clients.apiserver.keyPem };
    const run = async (restartCount: number, script: string) => {
      const spec: ContainerSpec = {
        id: `uid1_app_${restartCount}`,
        image: "busybox",
        command: ["sh", "-c", script],
        labels: containerLabels({
          podUid: "uid1",
          podNamespace: "default",
          podName: "web",
          containerName: "app",
          restartCount,
        }),
        logPath: join(tmp.path, "logs", `${restartCount}.log`),
      };
      await Deno.mkdir(join(tmp.path, "logs"), { recursive: true });
      await runtime.createContainer(spec);
      await runtime.startContainer(spec.id);
      return spec.id;
    };
    try {
      await t.step("a container that never ran is not available (404 Status)", async () => {
        const res = await get(port, "/containerLogs/default/web/app", tls);
        assert.equal(res.status, 404);
        const status = JSON.parse(res.body);
        assert.equal(status.kind, "Status");
        assert.equal(status.message, 'container "app" in pod "web" is not available: it has not run on this node');
      });

      const first = await run(0, "echo run-zero; echo to-stderr >&2; exit 3");
      await exited(runtime, first);

      await t.step("the only run's output is served; previous has none yet", async () => {
        const res = await eventually("the first run's log", async () => {
          const r = await get(port, "/containerLogs/default/web/app", tls);
          return r.body.includes("to-stderr") ? r : undefined;
        });
        assert.equal(res.status, 200);
        assert.match(res.type, /^text\/plain/);
        assert.deepEqual(res.body.split("\n").sort(), ["", "run-zero", "to-stderr"]);
        const previous = await get(port, "/containerLogs/default/web/app?previous=true", tls);
        assert.equal(previous.status, 400);
        assert.equal(JSON.parse(previous.body).message, 'previous terminated container "app" in pod "web" not found');
      });

      const current = await run(
        1,
        "echo alpha; echo beta; echo gamma; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo delta; sleep 3600",
      );
      await eventually("the second run's first lines", async () => {
        const r = await get(port, "/containerLogs/default/web/app", tls);
        return r.body === "alpha\nbeta\ngamma\n" ? r : undefined;
      });

      await t.step("tailLines, limitBytes, timestamps and previous select what the kubelet would", async () => {
        assert.equal((await get(port, "/containerLogs/default/web/app?tailLines=1", tls)).body, "gamma\n");
        assert.equal((await get(port, "/containerLogs/default/web/app?limitBytes=8", tls)).body, "alpha\nbe");
        const stamped = (await get(port, "/containerLogs/default/web/app?timestamps=true&tailLines=2", tls)).body;
        assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z beta\n\S+ gamma\n$/);
        const previous = await get(port, "/containerLogs/default/web/app?previous=true", tls);
        assert.deepEqual(previous.body.split("\n").sort(), ["", "run-zero", "to-stderr"]);
        const bad = await get(port, "/containerLogs/default/web/app?tailLines=-2", tls);
        assert.equal(bad.status, 400);
        assert.equal(JSON.parse(bad.body).message, 'Invalid tailLines "-2": expected a whole number of at least 0');
      });

      await t.step("follow streams new output as it is written", async () => {
        let triggered = false;
        const text = await follow(port, "/containerLogs/default/web/app?follow=true&tailLines=1", tls, (so) => {
          if (!triggered && so.includes("gamma")) {
            triggered = true;
            runtime.exec(current, ["touch", "/tmp/go"]).catch(() => {});
          }
          return so.includes("delta");
        });
        assert.equal(text, "gamma\ndelta\n");
      });

      await t.step("exec runs a command with separate stdout, stderr and its exit code", async () => {
        const command = ["sh", "-c", "echo out; echo err >&2; exit 3"].map((c) => `command=${encodeURIComponent(c)}`);
        const outcome = await execSession(port, `${command.join("&")}&stdout=true&stderr=true`, tls);
        assert.equal(outcome.protocol, "v5.channel.k8s.io");
        assert.equal(outcome.stdout, "out\n");
        assert.equal(outcome.stderr, "err\n");
        assert.equal(outcome.status?.reason, "NonZeroExitCode");
        assert.deepEqual((outcome.status?.details as { causes: unknown[] }).causes, [
          { reason: "ExitCode", message: "3" },
        ]);
        const ok = await execSession(port, "command=echo&command=ok&stdout=true&stderr=true", tls, {
          protocols: ["v4.channel.k8s.io"],
        });
        assert.equal(ok.protocol, "v4.channel.k8s.io");
        assert.equal(ok.stdout, "ok\n");
        assert.equal(ok.status?.status, "Success");
      });

      await t.step("exec passes stdin until the client closes it", async () => {
        const outcome = await execSession(port, "command=cat&stdin=true&stdout=true&stderr=true", tls, {
          input: ["hello ", "world\n"],
          closeStdin: true,
        });
        assert.equal(outcome.stdout, "hello world\n");
        assert.equal(outcome.status?.status, "Success");
      });

      await t.step("exec with a terminal takes the client's size and merges output", async () => {
        const outcome = await execSession(
          port,
          "command=sh&command=-c&command=sleep%200.5%3B%20stty%20size%3B%20echo%20oops%20%3E%262&stdout=true&tty=true",
          tls,
          { size: { Width: 123, Height: 45 } },
        );
        assert.equal(outcome.stdout, "45 123\r\noops\r\n");
        assert.equal(outcome.status?.status, "Success");
      });

      await t.step("exec of a missing program exits 127 and says why", async () => {
        const outcome = await execSession(port, "command=nosuch&stdout=true&stderr=true", tls);
        assert.match(outcome.stderr, /executable file not found/);
        assert.deepEqual((outcome.status?.details as { causes: unknown[] }).causes, [
          { reason: "ExitCode", message: "127" },
        ]);
      });

      await t.step("exec without a protocol the agent speaks is refused with a Status", async () => {
        await assert.rejects(
          execSession(port, "command=true&stdout=true", tls, { protocols: ["channel.k8s.io"] }),
          /HTTP 400: .*exec speaks the WebSocket subprotocols v5.channel.k8s.io and v4.channel.k8s.io/,
        );
      });

      await t.step("mTLS: no certificate or another CA's fails the handshake; another name is forbidden", async () => {
        await assert.rejects(get(port, "/containerLogs/default/web/app", { ca: ca.certPem }));
        await assert.rejects(
          get(port, "/containerLogs/default/web/app", {
            ca: ca.certPem,
            cert: clients.stranger.certPem,
            key: clients.stranger.keyPem,
          }),
        );
        const forbidden = await get(port, "/containerLogs/default/web/app", {
          ca: ca.certPem,
          cert: clients.intruder.certPem,
          key: clients.intruder.keyPem,
        });
        assert.equal(forbidden.status, 403);
        assert.match(JSON.parse(forbidden.body).message, /Only the API server may use this endpoint/);
      });
    } finally {
      await server.close();
      await dispose(runtime, stateDir);
    }
  },
});
