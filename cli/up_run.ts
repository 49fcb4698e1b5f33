/**
 * What `skiff up` does: starts the control plane, prints where the admin
 * kubeconfig is, starts a local node agent in the same process (unless
 * `--no-agent`), and shuts down gracefully on SIGINT or SIGTERM.
 *
 * @module
 */

import type { KubeObject } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import { type ControlPlane, newToken, startControlPlane, SYSTEM_USER } from "@skiff/control-plane";
import { type Agent, defaultNodeName, loadCredentials, runAgent } from "@skiff/node-agent";

/** Options of {@linkcode runUp}. */
export interface UpOptions {
  /** Data directory. */
  dataDir: string;
  /** API port. */
  port: number;
  /** Bind address. */
  bind: string;
  /** Extra certificate names. */
  tlsSans: string[];
  /** Start a local agent. */
  agent: boolean;
}

/** The label the local agent's node carries: it runs the control plane. */
export const LABEL_CONTROL_PLANE = "node-role.kubernetes.io/control-plane";

/** Runs the cluster until a signal arrives. */
export async function runUp(options: UpOptions): Promise<void> {
  const started = performance.now();
  const plane = await startControlPlane({
    dataDir: options.dataDir,
    port: options.port,
    bind: options.bind,
    tlsSans: options.tlsSans,
    controllers: true,
  });
  const ms = Math.round(performance.now() - started);
  console.log(`Skiff API server is up at ${plane.url} (${ms} ms); admin kubeconfig: ${plane.kubeconfigPath}`);
  console.log(`  export KUBECONFIG=${plane.kubeconfigPath}; kubectl get nodes`);
  const done = Promise.withResolvers<void>();
  const starting = new AbortController();
  let agent: Promise<Agent | undefined> = Promise.resolve(undefined);
  const stop = () => {
    console.log("Shutting down: finishing in-flight requests and closing the store");
    starting.abort(new Error("Shutting down"));
    agent
      .then((running) => running?.stop())
      .then(() => plane.stop())
      .then(done.resolve, done.reject);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  if (options.agent) agent = startLocalAgent(plane, options.dataDir, starting.signal);
  await done.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
}

/**
 * Why a local agent cannot run on this machine, in one line; undefined
 * when it can. (This checks only root and the two programs; a full
 * preflight of the machine is a separate piece of work.)
 */
export function localAgentProblem(
  env: { uid: number | null; findProgram: (name: string) => boolean } = {
    uid: Deno.uid(),
    findProgram: onPath,
  },
): string | undefined {
  if (env.uid !== 0) {
    return "it must run as root to run containers and wire their networks; run `sudo deno task up`, or pass --no-agent";
  }
  const missing = ["containerd", "runc"].filter((name) => !env.findProgram(name));
  if (missing.length > 0) {
    return `${missing.join(" and ")} ${
      missing.length > 1 ? "are" : "is"
    } not installed; install with \`apt-get install containerd runc\`, or pass --no-agent`;
  }
  return undefined;
}

function onPath(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/**
 * Starts the local agent in this process, or says in one line why it
 * cannot and leaves the control plane running. The agent authenticates
 * with its own node token, sent through the API handler in process: it is
 * the NODE user, so authorization and NodeRestriction apply as to any
 * other agent, without TLS or a socket between the two.
 */
async function startLocalAgent(plane: ControlPlane, dataDir: string, signal: AbortSignal): Promise<Agent | undefined> {
  const problem = localAgentProblem();
  if (problem) {
    console.log(`Local agent not started: ${problem}; the control plane keeps running`);
    return undefined;
  }
  try {
    const nodeName = defaultNodeName();
    const token = await localNodeToken(plane, dataDir, nodeName);
    return await runAgent({
      server: plane.url,
      token,
      caPem: plane.pki.caPem,
      nodeName,
      dataDir,
      labels: { [LABEL_CONTROL_PLANE]: "" },
      transport: (req) => plane.handler(req),
      log: (line) => console.log(`agent: ${line}`),
      signal,
    });
  } catch (error) {
    if (signal.aborted) return undefined;
    console.log(
      `Local agent could not start: ${
        error instanceof Error ? error.message : error
      }; the control plane keeps running (pass --no-agent to skip the agent)`,
    );
    return undefined;
  }
}

/**
 * The node token of this host's node: the one the agent stored, while it
 * is still a valid node token for `nodeName`; else a new one.
 */
async function localNodeToken(plane: ControlPlane, dataDir: string, nodeName: string): Promise<string> {
  const stored = await loadCredentials(dataDir).catch(() => undefined);
  if (stored && stored.nodeName === nodeName) {
    const record = await plane.tokens.verify(stored.token);
    if (record?.role === "node" && record.nodeName === nodeName) return stored.token;
  }
  const { token, secret } = await newToken({
    role: "node",
    nodeName,
    description: `local agent of skiff up on ${nodeName}`,
  });
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER), userAgent: "skiff-up" });
  await admin.kind("v1", "Secret").create(secret as KubeObject);
  return token;
}
