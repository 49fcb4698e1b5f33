/**
 * `skiff exec`: runs a command in a container, with `-i` for standard
 * input and `-t` for a terminal.
 *
 * @module
 */

import { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { runExec } from "./exec_run.ts";

/** The `exec` command's flags. */
export function execCommand(ctx: CliContext): Command {
  return new Command("exec")
    .description("run a command in a container (e.g. `skiff exec -it web-1 -- sh`)")
    .argument("<pod>", "a pod name, or <type>/<name> of a pod or a workload (one of its pods is used)")
    .argument("<command...>", "the command and its arguments, after --")
    .option("-c, --container <name>", "the container (default: the pod's default container, else its first)")
    .option("-i, --stdin", "send standard input to the command")
    .option("-t, --tty", "give the command a terminal")
    .option("-q, --quiet", "print nothing but the command's own output")
    .action(async (pod: string, commandLine: string[], options, command: Command) => {
      await runExec(ctx, command, pod, commandLine, {
        container: options.container,
        stdin: Boolean(options.stdin),
        tty: Boolean(options.tty),
        quiet: Boolean(options.quiet),
      });
    });
}
