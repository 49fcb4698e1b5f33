/**
 * `skiff token create|list|delete`: join tokens that let new machines join
 * the cluster (`skiff agent --server URL --token K10…`).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { duration } from "./_flags.ts";
import { runTokenCreate, runTokenDelete, runTokenList } from "./token_run.ts";

/** The `token` command and its subcommands' flags. */
export function tokenCommand(ctx: CliContext): Command {
  const token = new Command("token").description(
    "manage join tokens: create one to join machines with `skiff agent --server URL --token K10…`",
  );
  token.addCommand(
    new Command("create")
      .description("create a join token and print it with the command that joins a machine")
      .addOption(
        new Option("--ttl <duration>", "how long the token stays valid, e.g. 30m, 24h, 168h (0: forever)")
          .argParser(duration).default(24 * 3_600_000, "24h"),
      )
      .option("--description <text>", "what the token is for, shown by `skiff token list`")
      .action(async (options, command: Command) => {
        await runTokenCreate(ctx, command, {
          ttlMs: options.ttl,
          ...(options.description !== undefined ? { description: options.description } : {}),
        });
      }),
  );
  token.addCommand(
    new Command("list")
      .alias("ls")
      .description("list the tokens (join, node, admin and viewer): id, role, expiry, uses; never their secrets")
      .action(async (_options, command: Command) => {
        await runTokenList(ctx, command);
      }),
  );
  token.addCommand(
    new Command("delete")
      .alias("rm")
      .description("delete tokens: they stop working at once (nodes that joined with a join token keep working)")
      .argument("<ids...>", "token ids, as `skiff token list` shows them (a whole token is accepted too)")
      .action(async (ids: string[], _options, command: Command) => {
        await runTokenDelete(ctx, command, ids);
      }),
  );
  return token;
}
