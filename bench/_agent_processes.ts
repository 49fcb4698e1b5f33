/**
 * The agent benchmark's child processes: the node agent
 * (bench/_agent_node.ts) and the metrics-round harness
 * (bench/_agent_metrics.ts), each `deno run` with the repository's config,
 * its configuration in a JSON file, its standard error kept in a log file
 * whose tail is quoted when it fails. Each runs in a session of its own
 * (`setsid`), so a Ctrl-C at the terminal reaches only the benchmark, which
 * then stops them in order. The agent runs inside its node's network
 * namespace (`nsenter --net=…`). Both commands exec, so the process id is
 * the agent's own, and it keeps this machine's mount namespace.
 *
 * @module
 */

import { join } from "node:path";
import type { AgentNodeConfig } from "./_agent_node.ts";
import type { AreaCost, FullRoundFigures, MetricsHarnessConfig, RoundFigures } from "./_agent_metrics.ts";

const ROOT_CONFIG = new URL("../deno.json", import.meta.url).pathname;
const AGENT_SCRIPT = new URL("./_agent_node.ts", import.meta.url).pathname;
const METRICS_SCRIPT = new URL("./_agent_metrics.ts", import.meta.url).pathname;

/** A running agent process. */
export interface AgentProcess {
  /** Its process id. */
  readonly pid: number;
  /** The V8 flags it runs with (empty: the defaults). */
  readonly v8Flags: string[];
  /** Its log (the agent's lines). */
  readonly logFile: string;
  /** Stops it (SIGTERM, then SIGKILL after 30 s) and waits for it to exit; safe to call more than once. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startAgentProcess}. */
export interface StartAgentOptions {
  /** Where its config file and log go. */
  dir: string;
  /** V8 flags, e.g. `--max-semi-space-size=1`. */
  v8Flags?: string[];
  /** How long to wait for the node to be Ready, in ms (default 120000). */
  timeoutMs?: number;
}

/** The last lines of a log file. */
export async function logTail(path: string, lines = 15): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "(no log written)");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Runs `deno …` in a session of its own (inside network namespace `netns`
 * when given) with its standard error appended to `logFile` and its
 * standard output piped.
 */
function deno(args: string[], logFile: Deno.FsFile, netns?: string): Deno.ChildProcess {
  const enter = netns === undefined ? [] : ["nsenter", `--net=/run/netns/${netns}`, "--"];
  const child = new Deno.Command("setsid", {
    args: [...enter, Deno.execPath(), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  child.stderr.pipeTo(logFile.writable).catch(() => {});
  return child;
}

/** Sends `signal` to `child`, ignoring a process that has just exited. */
function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // Already exited.
  }
}

async function stopChild(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  signal(child, "SIGTERM");
  const timer = setTimeout(() => signal(child, "SIGKILL"), graceMs);
  await child.status;
  clearTimeout(timer);
}

/**
 * Starts the agent in a process of its own, inside the network namespace
 * `config.netns`, and waits until its node is Ready.
 *
 * @throws {Error} with the tail of the agent's log when it exits or is not Ready in time; it is stopped then
 */
export async function startAgentProcess(config: AgentNodeConfig, options: StartAgentOptions): Promise<AgentProcess> {
  const v8Flags = options.v8Flags ?? [];
  const tag = v8Flags.length === 0 ? "default" : v8Flags.join("_").replace(/[^A-Za-z0-9=_-]/g, "");
  const configFile = join(options.dir, `agent-${tag}.json`);
  const logFile = join(options.dir, `agent-${tag}.log`);
  await Deno.writeTextFile(configFile, JSON.stringify(config), { mode: 0o600 });
  const log = await Deno.open(logFile, { write: true, create: true, truncate: true });
  const flags = v8Flags.length === 0 ? [] : [`--v8-flags=${v8Flags.join(",")}`];
  const child = deno(["run", "-A", `--config=${ROOT_CONFIG}`, ...flags, AGENT_SCRIPT, configFile], log, config.netns);
  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= stopChild(child, 30_000);
  const exited = child.status.then(() => true);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = setTimeout(() => signal(child, "SIGKILL"), timeoutMs);
    try {
      while (!text.includes("\n")) {
        const chunk = await reader.read();
        if (chunk.done) {
          const how = await Promise.race([exited, Promise.resolve(false)]) ? "exited" : "closed its output";
          throw new Error(
            `The agent ${how} before its node was Ready (killed after ${timeoutMs / 1000} s if it hangs); ` +
              `last lines of ${logFile}:\n${await logTail(logFile)}`,
          );
        }
        text += chunk.value;
      }
    } finally {
      clearTimeout(deadline);
    }
    (async () => {
      while (!(await reader.read()).done);
    })();
    return { pid: child.pid, v8Flags, logFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What the metrics-round harness measured. */
export interface MetricsHarnessFigures {
  /** Each measured round. */
  rounds: RoundFigures[];
  /** The first hardware round, every area read fully at once. */
  fullRound: FullRoundFigures | undefined;
  /** Each hardware area, read cheap (and full, when asked). */
  areas: AreaCost[];
}

/**
 * Runs the metrics-round harness to the end and returns the figures of its
 * measured rounds and hardware reads.
 *
 * @throws {Error} with the tail of its log when it fails
 */
export async function runMetricsHarness(config: MetricsHarnessConfig, dir: string): Promise<MetricsHarnessFigures> {
  const configFile = join(dir, "metrics.json");
  const logFile = join(dir, "metrics.log");
  await Deno.writeTextFile(configFile, JSON.stringify(config), { mode: 0o600 });
  const log = await Deno.open(logFile, { write: true, create: true, truncate: true });
  const child = deno(["run", "-A", `--config=${ROOT_CONFIG}`, METRICS_SCRIPT, configFile], log);
  const timer = setTimeout(
    () => signal(child, "SIGKILL"),
    60_000 + config.rounds * (config.gapMs + 20_000) + config.areaReads * 16 * 5_000,
  );
  try {
    const stdout = await new Response(child.stdout).text();
    const { code } = await child.status;
    if (code !== 0) {
      throw new Error(
        `The metrics harness exited with code ${code}; last lines of ${logFile}:\n${await logTail(logFile)}`,
      );
    }
    const figures: MetricsHarnessFigures = { fullRound: undefined, rounds: [], areas: [] };
    for (const line of stdout.trim().split("\n").filter(Boolean)) {
      const parsed = JSON.parse(line) as { fullRound?: FullRoundFigures; round?: RoundFigures; area?: AreaCost };
      figures.fullRound ??= parsed.fullRound;
      if (parsed.round) figures.rounds.push(parsed.round);
      if (parsed.area) figures.areas.push(parsed.area);
    }
    return figures;
  } finally {
    clearTimeout(timer);
    await stopChild(child, 5_000);
  }
}
