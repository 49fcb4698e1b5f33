/**
 * What `skiff up` does, in order, each step waiting for the previous one:
 * the preflight (installing missing Debian packages with apt when root,
 * unless `--no-install`; refusing, with the fix, what it cannot fix),
 * containerd, the control plane, the csi-local volume plugin and a local
 * node agent in the same process (these three unless `--no-agent`); then
 * it prints how to use `skiff` and kubectl and the command that joins
 * other machines, and runs until SIGINT or SIGTERM, when it stops
 * everything in reverse order. A second `up` on the same data directory
 * resumes the same cluster.
 *
 * @module
 */

import { join } from "node:path";
import type { KubeObject } from "@skiff/api";
import { ApiClient } from "@skiff/client";
import {
  type ControlPlane,
  newToken,
  type PowerManagementOptions,
  startControlPlane,
  SYSTEM_USER,
} from "@skiff/control-plane";
import { type CsiLocalHandle, DRIVER_NAME, runCsiLocal } from "@skiff/csi-local";
import {
  type Agent,
  type ContainerdHandle,
  defaultNodeName,
  ensureContainerd,
  loadCredentials,
  runAgent,
} from "@skiff/node-agent";
import { runPreflight, systemEnv } from "./_preflight.ts";
import { advertisedServer, ensureJoinToken, joinCommand, primaryAddress } from "./token_run.ts";

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
  /** Start containerd, the csi-local plugin and a local agent. */
  agent: boolean;
  /** Install missing Debian packages with apt when root (`--no-install` makes it false). */
  install: boolean;
  /** LoadBalancer address pool (`--lb-pool`). */
  lbPool?: string;
  /** Power on demand (`--power-management`); off when absent. */
  powerManagement?: PowerManagementOptions;
}

/** The label the local agent's node carries: it runs the control plane. */
export const LABEL_CONTROL_PLANE = "node-role.kubernetes.io/control-plane";

/**
 * Runs the cluster until a signal arrives.
 *
 * @throws {PreflightError} when the machine cannot run it, listing each problem with its fix
 */
export async function runUp(options: UpOptions): Promise<void> {
  const { dataDir } = options;
  const stopping = new AbortController();
  const stop = () => {
    if (stopping.signal.aborted) return;
    console.log("Shutting down: finishing in-flight requests, stopping the agent, the plugin and the store");
    stopping.abort(new Error("Shutting down"));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const undo: { what: string; run: () => Promise<void> }[] = [];
  try {
    const checks = await runPreflight(systemEnv(), {
      dataDir,
      apiPort: options.port,
      bind: options.bind,
      agent: options.agent,
      install: options.install,
      print: (line) => console.log(line),
    });
    if (stopping.signal.aborted) return;

    let containerd: ContainerdHandle | undefined;
    if (options.agent) {
      const started = await ensureContainerd({ dataDir });
      undo.push({ what: "containerd", run: () => started.stop() });
      containerd = started;
      console.log(
        started.ownProcess
          ? `containerd is up (pid ${started.pid}) at ${started.address}; its log: ${started.logFile}`
          : `containerd: using the one running at ${started.address}`,
      );
    }
    if (stopping.signal.aborted) return;

    const started = performance.now();
    const plane = await startControlPlane({
      dataDir,
      port: options.port,
      bind: options.bind,
      tlsSans: options.tlsSans,
      controllers: true,
      cloud: {
        ...(options.lbPool ? { lbPool: options.lbPool } : {}),
        ...(options.powerManagement ? { powerManagement: options.powerManagement } : {}),
      },
    });
    undo.push({ what: "the control plane", run: () => plane.stop() });
    const ms = Math.round(performance.now() - started);
    console.log(`Skiff API server is up at ${plane.url} (${ms} ms); admin kubeconfig: ${plane.kubeconfigPath}`);
    if (stopping.signal.aborted) return;

    if (containerd) {
      const nodeName = defaultNodeName();
      const enforceSize = checks.some((check) => check.name === "volume size limits" && check.status === "ok");
      const plugin = await startVolumePlugin(dataDir, nodeName, enforceSize);
      undo.push({ what: "csi-local", run: () => plugin.stop() });
      if (stopping.signal.aborted) return;
      const agent = await startLocalAgent(plane, {
        dataDir,
        nodeName,
        containerdAddress: containerd.address,
        signal: stopping.signal,
      });
      if (agent) undo.push({ what: "the local agent", run: () => agent.stop() });
      if (stopping.signal.aborted) return;
    }

    printUsage(plane.kubeconfigPath);
    await printJoinCommand(plane, dataDir);
    await new Promise((resolve) => {
      if (stopping.signal.aborted) resolve(undefined);
      stopping.signal.addEventListener("abort", resolve, { once: true });
    });
  } finally {
    for (const { what, run } of undo.reverse()) {
      await run().catch((error) =>
        console.log(`Shutting down: cannot stop ${what}: ${error instanceof Error ? error.message : error}`)
      );
    }
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

/** Where `skiff up` serves csi-local, under the directory the agent discovers plugins in. */
function volumePluginSocket(dataDir: string): string {
  return join(dataDir, "plugins", "csi-local", "csi.sock");
}

/**
 * Starts csi-local in this process on `<data-dir>/plugins/csi-local/csi.sock`
 * with its volumes in `<data-dir>/csi-local`, so the agent finds it at start.
 */
async function startVolumePlugin(dataDir: string, nodeName: string, enforceSize: boolean): Promise<CsiLocalHandle> {
  const plugin = await runCsiLocal({
    endpoint: `unix://${volumePluginSocket(dataDir)}`,
    dataDir: join(dataDir, "csi-local"),
    nodeId: nodeName,
    enforceSize,
    log: (line) => console.log(line),
  });
  console.log(
    `Volumes: ${DRIVER_NAME} serves ${plugin.endpoint}, volumes in ${plugin.dataDir} (${
      enforceSize ? "each one an ext4 image of its requested size" : "no size limits: see the preflight's warning"
    })`,
  );
  return plugin;
}

/** How to use the cluster, with `skiff` and with kubectl. */
function printUsage(kubeconfigPath: string): void {
  console.log("Use the cluster:");
  console.log(`  export KUBECONFIG=${kubeconfigPath}`);
  console.log("  kubectl get nodes                 # any kubectl; the admin kubeconfig holds the server, CA and token");
  console.log(
    "  deno task skiff get pods -A       # skiff reads the same kubeconfig; deno task skiff --help lists all",
  );
  console.log("  deno task skiff apply -f app.yaml # manifests as kubectl takes them");
}

/**
 * Prints the command that joins other machines, with the join token kept
 * in `<data-dir>/join-token` (a new one when it is missing, expires within
 * the hour, or was revoked).
 */
async function printJoinCommand(plane: ControlPlane, dataDir: string): Promise<void> {
  const admin = new ApiClient({ server: plane.url, transport: plane.handler.as(SYSTEM_USER), userAgent: "skiff-up" });
  const file = join(dataDir, "join-token");
  const kept = await ensureJoinToken({
    client: admin,
    caHash: plane.pki.caHash,
    file,
    verify: (token) => plane.tokens.verify(token),
    now: Date.now(),
  });
  const until = kept.expiresAt === undefined
    ? "it never expires"
    : `it works until ${new Date(kept.expiresAt).toISOString()}`;
  console.log(
    `Join other machines as nodes (the join token is kept in ${file}; ${until}; \`skiff token create\` makes more):`,
  );
  console.log(`  ${joinCommand(advertisedServer(plane.url, primaryAddress()), kept.joinToken)}`);
}

/**
 * Starts the local agent in this process, or says in one line why it
 * could not and leaves the control plane running. The agent authenticates
 * with its own node token, sent through the API handler in process: it is
 * the NODE user, so authorization and NodeRestriction apply as to any
 * other agent, without TLS or a socket between the two.
 */
async function startLocalAgent(
  plane: ControlPlane,
  options: { dataDir: string; nodeName: string; containerdAddress: string; signal: AbortSignal },
): Promise<Agent | undefined> {
  const { dataDir, nodeName, signal } = options;
  try {
    const token = await localNodeToken(plane, dataDir, nodeName);
    return await runAgent({
      server: plane.url,
      token,
      caPem: plane.pki.caPem,
      nodeName,
      dataDir,
      containerdAddress: options.containerdAddress,
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
