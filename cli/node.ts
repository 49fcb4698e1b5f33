/**
 * `skiff node delete`: retires a node for good (to take it down for a
 * while, use `skiff drain` and `skiff uncordon`).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { duration, wholeNumberOrMinusOne } from "./_flags.ts";
import { runNodeDelete } from "./node_run.ts";

/** The `node` command and its subcommands' flags. */
export function nodeCommand(ctx: CliContext): Command {
  const node = new Command("node").description("retire nodes: `skiff node delete <name>`");
  node.addCommand(
    new Command("delete")
      .description(
        "retire a node: drain it (cordon, then evict its pods), then delete the Node and its node credential secret",
      )
      .argument("<name>", "the node")
      .option("--force", "also delete pods that no controller manages (they will not come back)")
      .option("--delete-emptydir-data", "also evict pods with emptyDir volumes (their data is lost)")
      .addOption(
        new Option("--grace-period <seconds>", "seconds each pod has to stop (-1: the pod's own)")
          .argParser(wholeNumberOrMinusOne).default(-1),
      )
      .addOption(
        new Option("--timeout <duration>", "give up draining after this long (0: never)").argParser(duration)
          .default(5 * 60_000, "5m"),
      )
      .addHelpText(
        "after",
        `
In order: the node is cordoned and its pods evicted, as \`skiff drain
--ignore-daemonsets\` does (a node that is not Ready has no agent to stop
them, so they are deleted at once); then its node credential (the token
Secret kube-system/skiff-token-<id> bound to its name) is deleted, so its
agent can no longer act as it; then its Lease and the Node itself.

The machine can join again under the same name with a new join token
(\`skiff token create\`, then \`skiff agent --server URL --token K10…\` on
it). A machine reinstalled under the same name does not need this: joining
again replaces its old credential.`,
      )
      .action(async (name: string, options, command: Command) => {
        await runNodeDelete(ctx, command, name, {
          force: Boolean(options.force),
          deleteEmptyDirData: Boolean(options.deleteEmptydirData),
          gracePeriod: options.gracePeriod,
          timeoutMs: options.timeout,
        });
      }),
  );
  return node;
}
