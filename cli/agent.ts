/**
 * `skiff agent`: runs a node agent on this machine.
 *
 * @module
 */

import { Command } from "commander";
import { defaultDataDir } from "./_paths.ts";
import { runAgentCommand } from "./agent_run.ts";

/** The `agent` command's flags. */
export function agentCommand(): Command {
  return new Command("agent")
    .description("run a node agent: register this machine as a node and run the pods bound to it")
    .option("--server <url>", "API server URL, e.g. https://192.168.1.10:6443 (stored after the first start)")
    .option(
      "--token <token>",
      "a join token K10…::<id>.<secret> from `skiff token create`, or a bearer token <id>.<secret>: a node token for this node name, or an admin token (stored)",
    )
    .option("--ca-cert <file>", "the cluster CA certificate, <data-dir>/pki/ca.crt on the control plane (stored)")
    .option("--node-name <name>", "the node's name (default: the stored one, else this machine's hostname)")
    .option("--data-dir <dir>", "where the agent keeps credentials, pods, network state and images", defaultDataDir())
    .option(
      "--containerd-address <sock>",
      "containerd's socket (default: /run/containerd/containerd.sock if it answers, else start one under the data dir)",
    )
    .option(
      "--containerd-namespace <name>",
      "the containerd namespace of the node's containers and images (default: skiff); one per agent sharing a containerd",
    )
    .option("--node-ip <ip>", "the node's InternalIP (default: the address this machine reaches the server from)")
    .option(
      "--node-external-ip <ip>",
      "the node's ExternalIP: the address this machine is reached at from outside its LAN (default: none)",
    )
    .addHelpText(
      "after",
      `
The first start needs --server and --token. With a join token (what
\`skiff token create\` prints on the control plane), the agent fetches the
server's CA, checks it against the hash the token carries before it sends
anything, and exchanges the token for a node credential bound to this node's
name; one join token can join several nodes until it expires. A plain bearer
token needs --ca-cert too, unless the server's certificate is signed by a CA
the system trusts. Server, CA and node token are kept in
<data-dir>/agent/credentials.json (mode 0600), so later starts need no flags.
Flags given later replace what is stored.

SIGINT or SIGTERM stops the agent; containers keep running and are adopted
when it starts again.`,
    )
    .action(async (options) => {
      await runAgentCommand({
        dataDir: options.dataDir,
        ...(options.server !== undefined ? { server: options.server } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
        ...(options.caCert !== undefined ? { caCert: options.caCert } : {}),
        ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
        ...(options.containerdAddress !== undefined ? { containerdAddress: options.containerdAddress } : {}),
        ...(options.nodeIp !== undefined ? { nodeIp: options.nodeIp } : {}),
        ...(options.nodeExternalIp !== undefined ? { nodeExternalIp: options.nodeExternalIp } : {}),
        ...(options.containerdNamespace !== undefined ? { containerdNamespace: options.containerdNamespace } : {}),
      });
    });
}
