/**
 * `skiff`: the admin CLI, and the one program that also brings a cluster up.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error (commander's own errors
 * included). Every error is one line on standard error that says what to
 * do next.
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { CliContext } from "./_context.ts";
import { errorLine, exitCodeOf, ExitError } from "./_errors.ts";
import { denoIo, type Io } from "./_io.ts";
import { CLI_VERSION } from "./_version.ts";
import { upCommand } from "./up.ts";
import { agentCommand } from "./agent.ts";
import { annotateCommand } from "./annotate.ts";
import { apiResourcesCommand } from "./api_resources.ts";
import { applyCommand } from "./apply.ts";
import { completionCommand } from "./completion.ts";
import { cordonCommand } from "./cordon.ts";
import { csiLocalCommand } from "./csi_local.ts";
import { createCommand } from "./create.ts";
import { deleteCommand } from "./delete.ts";
import { describeCommand } from "./describe.ts";
import { drainCommand } from "./drain.ts";
import { editCommand } from "./edit.ts";
import { eventsCommand } from "./events.ts";
import { execCommand } from "./exec.ts";
import { flashCommand } from "./flash.ts";
import { getCommand } from "./get.ts";
import { labelCommand } from "./label.ts";
import { logsCommand } from "./logs.ts";
import { nodeCommand } from "./node.ts";
import { rolloutCommand } from "./rollout.ts";
import { scaleCommand } from "./scale.ts";
import { tokenCommand } from "./token.ts";
import { topCommand } from "./top.ts";
import { uncordonCommand } from "./uncordon.ts";
import { versionCommand } from "./version.ts";

/** Options of {@linkcode program}. */
export interface ProgramOptions {
  /** Streams, environment and clock (default: the process's). */
  io?: Io;
  /** The shared state of the run (default: a new one over `io`). */
  context?: CliContext;
}

/** Makes commander print through `io`, throw instead of exiting, and show usage errors on one line. */
function configure(command: Command, io: Io): void {
  command
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => {
        const path = commandPath(command);
        const line = text.trim().split("\n").map((part) => part.trim()).join(" ").replace(/\.$/, "");
        write(`${line}: see \`${path} --help\`\n`);
      },
    });
  for (const sub of command.commands) configure(sub, io);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Builds the program with every command. */
export function program(options: ProgramOptions = {}): Command {
  const io = options.io ?? denoIo();
  const ctx = options.context ?? new CliContext(io);
  const root = new Command("skiff")
    .description("Skiff: a Kubernetes-shaped container orchestrator for homelabs")
    .version(CLI_VERSION, "-V, --version", "print the client version")
    .option("--kubeconfig <file>", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .option("-n, --namespace <namespace>", "namespace (default: the context's, else default)")
    .addCommand(upCommand())
    .addCommand(agentCommand())
    .addCommand(csiLocalCommand(io))
    .addCommand(flashCommand(io))
    .addCommand(getCommand(ctx))
    .addCommand(describeCommand(ctx))
    .addCommand(applyCommand(ctx))
    .addCommand(createCommand(ctx))
    .addCommand(deleteCommand(ctx))
    .addCommand(editCommand(ctx))
    .addCommand(labelCommand(ctx))
    .addCommand(annotateCommand(ctx))
    .addCommand(scaleCommand(ctx))
    .addCommand(rolloutCommand(ctx))
    .addCommand(logsCommand(ctx))
    .addCommand(execCommand(ctx))
    .addCommand(topCommand(ctx))
    .addCommand(cordonCommand(ctx))
    .addCommand(uncordonCommand(ctx))
    .addCommand(drainCommand(ctx))
    .addCommand(nodeCommand(ctx))
    .addCommand(tokenCommand(ctx))
    .addCommand(eventsCommand(ctx))
    .addCommand(apiResourcesCommand(ctx))
    .addCommand(versionCommand(ctx))
    .addCommand(completionCommand(ctx));
  root.addOption(new Option("--no-color", "never colour the output (same as NO_COLOR=1)"));
  root.hook("postAction", () => ctx.close());
  configure(root, io);
  return root;
}

/**
 * Runs the program with `args` (without the program name) and returns the
 * exit code; errors are printed to `io.stderr`, never thrown.
 *
 * @example
 * ```ts
 * const code = await runCli(["get", "pods", "-A"]);
 * Deno.exit(code);
 * ```
 */
export async function runCli(args: readonly string[], io: Io = denoIo()): Promise<number> {
  const ctx = new CliContext(
    args.includes("--no-color") ? { ...io, env: (n) => n === "NO_COLOR" ? "1" : io.env(n) } : io,
  );
  try {
    await program({ io: ctx.io, context: ctx }).parseAsync([...args], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const code = exitCodeOf(err);
    if (code !== 0 && !(err instanceof ExitError)) {
      ctx.io.stderr.write(`${ctx.err.red("error:")} ${errorLine(err, ctx.hint)}\n`);
    }
    return code;
  } finally {
    ctx.close();
  }
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
