/**
 * `skiff top nodes|pods`: CPU and memory use, from metrics.k8s.io (and,
 * for nodes, the temperature the agent reports).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runTopNodes, runTopPods } from "./top_run.ts";

/** The `top` command and its subcommands' flags. */
export function topCommand(ctx: CliContext): Command {
  const top = new Command("top").description("show CPU and memory use of nodes or pods");
  top.addCommand(
    new Command("nodes")
      .alias("node")
      .alias("no")
      .description("CPU, memory and temperature of nodes")
      .argument("[name]", "one node")
      .option("-l, --selector <selector>", "only nodes with these labels")
      .addOption(new Option("--sort-by <what>", "sort by cpu or memory").choices(["cpu", "memory"]))
      .option("--no-headers", "print no header line")
      .action(async (name: string | undefined, options, command: Command) => {
        await runTopNodes(ctx, command, name, {
          selector: options.selector,
          sortBy: options.sortBy,
          headers: options.headers !== false,
        });
      }),
  );
  top.addCommand(
    new Command("pods")
      .alias("pod")
      .alias("po")
      .description("CPU and memory of pods")
      .argument("[name]", "one pod")
      .option("-A, --all-namespaces", "across all namespaces")
      .option("-l, --selector <selector>", "only pods with these labels")
      .option("--containers", "one line per container")
      .addOption(new Option("--sort-by <what>", "sort by cpu or memory").choices(["cpu", "memory"]))
      .option("--no-headers", "print no header line")
      .action(async (name: string | undefined, options, command: Command) => {
        await runTopPods(ctx, command, name, {
          allNamespaces: Boolean(options.allNamespaces),
          selector: options.selector,
          containers: Boolean(options.containers),
          sortBy: options.sortBy,
          headers: options.headers !== false,
        });
      }),
  );
  return top;
}
