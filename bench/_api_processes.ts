/**
 * The API benchmark's servers, each its own child process so its CPU time
 * and RSS are its own: Skiff's control plane (bench/_api_server.ts) and one
 * etcd member on loopback serving TLS with certificates made by openssl.
 *
 * @module
 */

import { join } from "node:path";

/** A server process the benchmark started. */
export interface ServerProcess {
  /** Its base URL (`https://127.0.0.1:<port>`). */
  url: string;
  /** The CA its serving certificate chains to, PEM. */
  caPem: string;
  /** Its process id. */
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 15 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** A running Skiff control plane. */
export interface SkiffProcess extends ServerProcess {
  /** The admin kubeconfig it wrote. */
  kubeconfig: string;
}

/** Options of {@linkcode startSkiff}. */
export interface StartSkiffOptions {
  /** When set, the server runs under `--cpu-prof` and writes its profile here on stop. */
  cpuProfDir?: string;
}

const ROOT_CONFIG = new URL("../deno.json", import.meta.url).pathname;
const SERVER_SCRIPT = new URL("./_api_server.ts", import.meta.url).pathname;

/** Starts a control plane with its state in `dataDir` and waits until it serves. */
export async function startSkiff(dataDir: string, options: StartSkiffOptions = {}): Promise<SkiffProcess> {
  const profile = options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${ROOT_CONFIG}`, ...profile, SERVER_SCRIPT, dataDir],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = () => stopChild(child);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error("The control plane exited before serving: see its errors above");
      text += chunk.value;
    }
    (async () => {
      while (!(await reader.read()).done);
    })();
    const { url, kubeconfig } = JSON.parse(text.slice(0, text.indexOf("\n"))) as { url: string; kubeconfig: string };
    const caPem = await Deno.readTextFile(join(dataDir, "pki", "ca.crt"));
    return { url, kubeconfig, caPem, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts one etcd member on loopback (client URL over TLS) with its data in `dir`, and waits until it is healthy. */
export async function startEtcd(dir: string): Promise<ServerProcess> {
  const pki = join(dir, "pki");
  await Deno.mkdir(pki, { recursive: true });
  await makeCertificates(pki);
  const [clientPort, peerPort] = [freePort(), freePort()];
  const url = `https://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const log = join(dir, "etcd.log");
  const command = new Deno.Command("etcd", {
    args: [
      "--name=bench",
      `--data-dir=${join(dir, "data")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      `--cert-file=${join(pki, "server.crt")}`,
      `--key-file=${join(pki, "server.key")}`,
      "--logger=zap",
      `--log-outputs=${log}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new Error(
      "Cannot start etcd: no etcd binary on PATH; install it (apt-get install etcd-server) or leave etcd out " +
        "(--only=update,paced,watch)",
      { cause: err },
    );
  }
  const stop = () => stopChild(child);
  const caPem = await Deno.readTextFile(join(pki, "ca.crt"));
  const exited = child.status.then(() => true);
  try {
    const deadline = performance.now() + 20_000;
    for (;;) {
      if (await Promise.race([exited, new Promise<false>((resolve) => setTimeout(() => resolve(false), 100))])) {
        throw new Error(`etcd exited before serving: ${await logTail(log)}`);
      }
      if (await healthy(url, caPem)) break;
      if (performance.now() > deadline) {
        throw new Error(`etcd did not become healthy within 20 s: ${await logTail(log)}`);
      }
    }
    return { url, caPem, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function healthy(url: string, caPem: string): Promise<boolean> {
  const client = Deno.createHttpClient({ caCerts: [caPem] });
  try {
    const res = await fetch(`${url}/health`, { client, signal: AbortSignal.timeout(1000) });
    const body = await res.text();
    return res.ok && body.includes('"true"');
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function logTail(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "(no log written)");
  return text.trim().split("\n").slice(-5).join("\n");
}

/** A CA and a serving certificate for 127.0.0.1, ECDSA P-256 as Skiff's own. */
async function makeCertificates(dir: string): Promise<void> {
  const curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...curve,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=bench-etcd-ca",
  ], dir);
  await openssl(["req", ...curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], dir);
  await Deno.writeTextFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ], dir);
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" }).output().catch(
    (err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      throw new Error(
        "Cannot make etcd's certificates: no openssl binary on PATH; install it (apt-get install openssl)",
        {
          cause: err,
        },
      );
    },
  );
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited in the meantime.
    }
  }, 15_000);
  await child.status;
  clearTimeout(timer);
}
