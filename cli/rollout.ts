/**
 * `skiff rollout status|restart|undo|history|pause|resume`: follows and
 * steers rollouts of deployments (and, for status and restart, daemon sets
 * and stateful sets).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { booleanValue, dryRunMode, duration, wholeNumber } from "./_flags.ts";
import { runRolloutHistory, runRolloutUndo } from "./_rollout_revisions.ts";
import { runRolloutPause, runRolloutRestart, runRolloutStatus } from "./rollout_run.ts";

/** The `rollout` command and its subcommands' flags. */
export function rolloutCommand(ctx: CliContext): Command {
  const rollout = new Command("rollout").description(
    "manage the rollout of deployments, daemon sets and stateful sets",
  );
  rollout.addCommand(
    new Command("status")
      .description("watch a rollout until it completes (e.g. `skiff rollout status deploy/web`)")
      .argument("<type-and-name...>", "<type> <name> or <type>/<name>")
      .addOption(
        new Option("-w, --watch [bool]", "keep watching until done (default true)").argParser(booleanValue).default(
          true,
        ),
      )
      .addOption(
        new Option("--timeout <duration>", "give up after this long (0: never)").argParser(duration).default(0, "0"),
      )
      .action(async (args: string[], options, command: Command) => {
        await runRolloutStatus(ctx, command, args, { watch: options.watch, timeoutMs: options.timeout });
      }),
  );
  rollout.addCommand(
    new Command("restart")
      .description("restart every pod of a workload with a rolling update")
      .argument("<type-and-names...>", "<type> <name>… or <type>/<name>…")
      .action(async (args: string[], _options, command: Command) => {
        await runRolloutRestart(ctx, command, args);
      }),
  );
  rollout.addCommand(
    new Command("history")
      .description("list the revisions of a deployment, or show one (--revision)")
      .argument("<type-and-name...>", "<type> <name> or <type>/<name>")
      .addOption(new Option("--revision <n>", "show the pod template of this revision").argParser(wholeNumber))
      .action(async (args: string[], options, command: Command) => {
        await runRolloutHistory(ctx, command, args, { revision: options.revision });
      }),
  );
  rollout.addCommand(
    new Command("undo")
      .description("roll a deployment back to the previous revision, or to --to-revision")
      .argument("<type-and-name...>", "<type> <name> or <type>/<name>")
      .addOption(
        new Option("--to-revision <n>", "the revision to go back to (0: the previous one)").argParser(wholeNumber)
          .default(0),
      )
      .addOption(new Option("--dry-run [mode]", "client or server: check without saving").argParser(dryRunMode))
      .action(async (args: string[], options, command: Command) => {
        await runRolloutUndo(ctx, command, args, {
          toRevision: options.toRevision,
          dryRun: dryRunMode(options.dryRun),
        });
      }),
  );
  rollout.addCommand(
    new Command("pause")
      .description("pause a deployment: template changes wait until it is resumed")
      .argument("<type-and-names...>", "<type> <name>… or <type>/<name>…")
      .action(async (args: string[], _options, command: Command) => {
        await runRolloutPause(ctx, command, args, true);
      }),
  );
  rollout.addCommand(
    new Command("resume")
      .description("resume a paused deployment")
      .argument("<type-and-names...>", "<type> <name>… or <type>/<name>…")
      .action(async (args: string[], _options, command: Command) => {
        await runRolloutPause(ctx, command, args, false);
      }),
  );
  return rollout;
}
