/**
 * What `skiff exec` does: picks the pod and container, opens the exec
 * stream (`v5.channel.k8s.io`), puts the local terminal in raw mode for
 * `-t`, and exits with the remote command's exit code.
 *
 * @module
 */

import type { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { ExitError, UsageError } from "./_errors.ts";
import { execStream } from "./_exec_stream.ts";
import { pickContainer, resolvePod } from "./_pods.ts";
import { CLI_VERSION } from "./_version.ts";

/** Options of {@linkcode runExec}. */
export interface ExecOptions {
  /** `-c`. */
  container?: string;
  /** `-i`. */
  stdin: boolean;
  /** `-t`. */
  tty: boolean;
  /** `-q`. */
  quiet: boolean;
}

/** Runs `skiff exec`. */
export async function runExec(
  ctx: CliContext,
  command: Command,
  podArg: string,
  commandLine: string[],
  options: ExecOptions,
): Promise<void> {
  if (commandLine.length === 0) throw new UsageError("exec needs a command: e.g. `skiff exec web-1 -- ls /`");
  const conn = await ctx.connect(command);
  const pod = await resolvePod(ctx, conn, podArg);
  const container = pickContainer(ctx, pod, options.container, { quiet: options.quiet });
  const tty = options.tty && (!options.stdin || ctx.io.stdinIsTerminal);
  if (options.tty && !tty && !options.quiet) {
    ctx.io.stderr.write("Unable to use a TTY - input is not a terminal or the right kind of file\n");
  }
  const path = conn.client.kind("v1", "Pod").path(pod.metadata.namespace, pod.metadata.name, "exec");
  const url = new URL(conn.client.server + path);
  url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
  for (const arg of commandLine) url.searchParams.append("command", arg);
  url.searchParams.set("container", container);
  url.searchParams.set("stdin", String(options.stdin));
  url.searchParams.set("stdout", "true");
  url.searchParams.set("stderr", String(!tty));
  url.searchParams.set("tty", String(tty));
  const raw = tty && options.stdin && ctx.io.setRaw !== undefined;
  if (raw) ctx.io.setRaw!(true);
  let code: number;
  try {
    code = await execStream({
      url: url.toString(),
      ...(conn.config.token !== undefined ? { token: conn.config.token } : {}),
      ...(conn.config.caPem !== undefined ? { caPem: conn.config.caPem } : {}),
      insecure: conn.config.insecureSkipTlsVerify,
      ...(options.stdin ? { stdin: ctx.io.stdin() } : {}),
      stdout: (data) => ctx.io.stdout.write(data),
      stderr: (data) => ctx.io.stderr.write(data),
      ...(tty && ctx.io.terminalSize ? { terminalSize: ctx.io.terminalSize } : {}),
      ...(tty && ctx.io.onResize ? { onResize: ctx.io.onResize } : {}),
      userAgent: `skiff/${CLI_VERSION}`,
    });
  } finally {
    if (raw) ctx.io.setRaw!(false);
  }
  if (code !== 0) {
    if (!options.quiet) ctx.io.stderr.write(`command terminated with exit code ${code}\n`);
    throw new ExitError(code);
  }
}
