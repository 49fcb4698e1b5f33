/**
 * The agent benchmark's node agent, in a process of its own so that its
 * RSS and CPU time are its own: `runAgent` as `skiff agent` runs it (the
 * containerd at the benchmark's socket, the pod network through the CNI
 * plugins, the cluster network on: service proxy, routes and cluster DNS),
 * with the node name, data directory and containerd namespace of the
 * benchmark's, and the logs and exec server on a free port of the node's
 * address. The benchmark starts it inside a lab network namespace, the
 * node's "host" network, so nothing it wires touches this machine's own.
 * Prints one JSON line `{ "ready": true, "podCidr": … }` on stdout once the
 * node is Ready; the agent's own lines go to stderr. SIGTERM or SIGINT stop
 * it gracefully (containers keep running) and end the process.
 *
 * `deno run -A bench/_agent_node.ts <config.json>` (see {@linkcode AgentNodeConfig})
 *
 * @module
 */

import { runAgent } from "../node-agent/mod.ts";

/** What the benchmark hands the agent process, as a JSON file. */
export interface AgentNodeConfig {
  /** The API server's URL. */
  server: string;
  /** A node token for `nodeName`. */
  token: string;
  /** The cluster CA, PEM. */
  caPem: string;
  /** The node's name. */
  nodeName: string;
  /** The node's address (its InternalIP, where the logs and exec server listens). */
  nodeIp: string;
  /** The agent's data directory. */
  dataDir: string;
  /** The private containerd's socket. */
  containerdAddress: string;
  /** The containerd namespace of the agent's containers. */
  namespace: string;
  /** The lab network namespace the agent runs in (the node's "host" network). */
  netns: string;
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("Missing config file: usage: deno run -A bench/_agent_node.ts <config.json>");
    Deno.exit(2);
  }
  const config = JSON.parse(await Deno.readTextFile(path)) as AgentNodeConfig;
  const starting = new AbortController();
  const signalled = Promise.withResolvers<void>();
  const onSignal = () => {
    starting.abort(new Error("Interrupted while starting"));
    signalled.resolve();
  };
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  let code = 0;
  try {
    const agent = await runAgent({
      server: config.server,
      token: config.token,
      caPem: config.caPem,
      nodeName: config.nodeName,
      dataDir: config.dataDir,
      containerdAddress: config.containerdAddress,
      containerdNamespace: config.namespace,
      nodeIp: config.nodeIp,
      port: 0,
      bindAddress: config.nodeIp,
      log: (line) => console.error(line),
      signal: starting.signal,
    });
    console.log(JSON.stringify({ ready: true, podCidr: agent.node.spec?.podCIDR }));
    await signalled.promise;
    await agent.stop();
  } catch (error) {
    if (!starting.signal.aborted) {
      console.error(`The benchmark's agent failed: ${error instanceof Error ? error.message : error}`);
      code = 1;
    }
  }
  Deno.exit(code);
}
