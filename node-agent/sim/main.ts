/**
 * Runs simulated nodes against a control plane until interrupted:
 *
 * `deno run -A node-agent/sim/main.ts --nodes 100 [--kubeconfig F] [--server URL]
 *   [--name-prefix P] [--cpu 4] [--memory 8Gi] [--pods 110] [--arch amd64]
 *   [--label k=v]… [--temperature 45] [--device serial=1]… [--heartbeat-seconds 10]`
 *
 * The kubeconfig is found as kubectl finds it (`--kubeconfig`, `$KUBECONFIG`,
 * `~/.kube/config`); `--server` replaces its server URL. The Node objects
 * stay registered after the nodes stop (they go NotReady).
 *
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import { ApiClient, createTlsFetch, loadKubeconfig } from "@skiff/client";
import { runSimulatedNodes } from "./simulated_nodes.ts";

function count(value: string): number {
  if (!/^[0-9]{1,7}$/.test(value)) throw new InvalidArgumentError(`must be a whole number, got "${value}"`);
  return Number(value);
}

function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`must be a positive number, got "${value}"`);
  return n;
}

function celsius(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`must be °C, got "${value}"`);
  return n;
}

function pair(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`must be key=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function device(value: string, previous: Record<string, number>): Record<string, number> {
  const match = /^([a-z0-9-]+)=([0-9]{1,4})$/.exec(value);
  if (!match) throw new InvalidArgumentError(`must be kind=count such as serial=1, got "${value}"`);
  return { ...previous, [match[1]!]: Number(match[2]) };
}

const program = new Command("skiff-sim")
  .description("Run simulated nodes (hollow nodes with a fake runtime) against a Skiff or Kubernetes control plane")
  .requiredOption("--nodes <n>", "how many nodes", count)
  .option("--kubeconfig <file>", "kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)")
  .option("--server <url>", "API server URL, replacing the kubeconfig's")
  .option("--name-prefix <prefix>", "node names are this prefix and an index", "sim-node-")
  .option("--cpu <quantity>", "CPUs per node", "4")
  .option("--memory <quantity>", "memory per node", "8Gi")
  .option("--pods <n>", "pods per node", count, 110)
  .option("--arch <arch>", "kubernetes.io/arch of the nodes", "amd64")
  .option("--label <key=value>", "extra node label (repeatable)", pair, {})
  .option("--temperature <celsius>", "reported temperature", celsius, 45)
  .option("--device <kind=count>", "host devices per node, e.g. serial=1 (repeatable)", device, {})
  .option("--heartbeat-seconds <s>", "seconds between Lease renewals", positive, 10)
  .action(async (flags) => {
    const config = await loadKubeconfig(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {});
    const tls = createTlsFetch({
      ...(config.caPem ? { caPem: config.caPem } : {}),
      insecure: config.insecureSkipTlsVerify,
    });
    const client = new ApiClient({
      server: flags.server ?? config.server,
      ...(config.token ? { token: config.token } : {}),
      transport: tls,
      userAgent: "skiff-sim",
      close: () => tls.close(),
    });
    const sim = await runSimulatedNodes({
      client,
      nodes: flags.nodes,
      namePrefix: flags.namePrefix,
      capacity: { cpu: flags.cpu, memory: flags.memory, pods: flags.pods },
      arch: flags.arch,
      labels: flags.label,
      temperatureCelsius: flags.temperature,
      devices: flags.device,
      heartbeatSeconds: flags.heartbeatSeconds,
    });
    console.error(`${flags.nodes} simulated nodes registered at ${client.server}; press Ctrl-C to stop them`);
    const report = setInterval(() => {
      const s = sim.stats;
      console.error(
        `${s.nodes} nodes, ${s.pods} pods (${s.running} running), ${s.leaseRenewals} lease renewals, ` +
          `${s.podStatusWrites} pod status writes, ${s.errors} errors`,
      );
    }, 30_000);
    const stop = async () => {
      clearInterval(report);
      await sim.stop();
      client.close();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });

try {
  await program.parseAsync(["deno", "main.ts", ...Deno.args]);
} catch (err) {
  console.error(`skiff-sim: ${err instanceof Error ? err.message : err}`);
  Deno.exit(1);
}
