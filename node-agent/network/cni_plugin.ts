/**
 * Invoking CNI plugin binaries the way the CNI 1.0.0 spec says a runtime
 * does: the operation in environment variables (`CNI_COMMAND`,
 * `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_PATH`), the network
 * configuration as JSON on stdin, the result or a structured error as JSON on
 * stdout. A network configuration list (conflist) runs as a chain: ADD in
 * order with each plugin receiving the previous one's result as
 * `prevResult`; DEL in reverse order and CHECK in order, both with the
 * cached result of the ADD.
 *
 * @module
 */

import { join } from "node:path";
import { CommandError, type Exec } from "../_exec.ts";

/** The CNI spec version Skiff speaks. */
export const CNI_VERSION = "1.0.0";

/** A CNI operation Skiff runs (spec 1.0.0 has no STATUS or GC). */
export type CniCommand = "ADD" | "DEL" | "CHECK";

/** One plugin of a network configuration list. */
export interface CniPluginConfig {
  /** The plugin's binary name, e.g. `bridge`. */
  type: string;
  /** Runtime capabilities the plugin takes through `runtimeConfig`. */
  capabilities?: Record<string, boolean>;
  /** Plugin-specific settings. */
  [setting: string]: unknown;
}

/** A network configuration list (`.conflist`). */
export interface CniNetworkList {
  /** The spec version of the configuration. */
  cniVersion: string;
  /** The network name, unique on the node; plugins derive names from it. */
  name: string;
  /** Plugins run in order on ADD. */
  plugins: CniPluginConfig[];
}

/** An interface a plugin created or configured. */
export interface CniInterface {
  /** Interface name, e.g. `eth0`. */
  name: string;
  /** Hardware address. */
  mac?: string;
  /** The network namespace path when the interface lives in the sandbox. */
  sandbox?: string;
}

/** An address a plugin assigned. */
export interface CniIpConfig {
  /** Address with prefix length, e.g. `10.42.3.2/24`. */
  address: string;
  /** Default gateway for the address's network. */
  gateway?: string;
  /** Index into the result's `interfaces`. */
  interface?: number;
}

/** The result of a successful ADD. */
export interface CniResult {
  /** The spec version of the result. */
  cniVersion: string;
  /** Interfaces created or configured. */
  interfaces?: CniInterface[];
  /** Addresses assigned. */
  ips?: CniIpConfig[];
  /** Routes added in the sandbox. */
  routes?: { dst: string; gw?: string }[];
  /** DNS settings. */
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** What one operation on one attachment is about. */
export interface CniRuntimeArgs {
  /** `CNI_CONTAINERID`: the sandbox's id. */
  containerId: string;
  /** `CNI_NETNS`: the sandbox's namespace path; empty on a DEL whose namespace is gone. */
  netnsPath: string;
  /** `CNI_IFNAME`: the interface name inside the sandbox. */
  ifName: string;
  /** Values for the plugins' declared capabilities (e.g. `portMappings`). */
  runtimeConfig?: Record<string, unknown>;
}

/** How plugins are run. */
export interface CniExecOptions {
  /** Runs the plugin processes. */
  exec: Exec;
  /** Directory of plugin binaries (`CNI_PATH`), e.g. `/usr/lib/cni`. */
  binDir: string;
  /** Run the plugins inside this named network namespace (a simulated host). */
  netns?: string;
  /** Kill a plugin that runs longer than this (default 60 s). */
  timeoutMs?: number;
  /** Who the operation is for, for error messages, e.g. `pod "default/web"`. */
  subject?: string;
}

/** Fields of a CNI error object, for {@linkcode CniError}. */
export interface CniErrorFields {
  /** The plugin's binary name. */
  plugin: string;
  /** The operation. */
  command: CniCommand;
  /** The CNI error code (1 to 99 from the spec, 100+ plugin-specific). */
  cniCode?: number;
  /** The plugin's `msg`. */
  msg: string;
  /** The plugin's `details`. */
  details?: string;
  /** Who the operation was for. */
  subject?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** A CNI plugin failed, or could not be run, or answered something unreadable. */
export class CniError extends Error {
  /** The plugin's binary name, e.g. `bridge`. */
  readonly plugin: string;
  /** The operation that failed. */
  readonly command: CniCommand;
  /** The CNI error code, when the plugin gave one. */
  readonly cniCode: number | undefined;
  /** The plugin's error details, when it gave any. */
  readonly details: string | undefined;

  /** Creates the error; the message names the plugin, the operation and what it said. */
  constructor(fields: CniErrorFields) {
    const subject = fields.subject ? ` for ${fields.subject}` : "";
    const details = fields.details ? `: ${fields.details}` : "";
    super(`CNI plugin "${fields.plugin}" failed on ${fields.command}${subject}: ${fields.msg}${details}`, {
      cause: fields.cause,
    });
    this.name = "CniError";
    this.plugin = fields.plugin;
    this.command = fields.command;
    this.cniCode = fields.cniCode;
    this.details = fields.details;
  }
}

const DEFAULT_TIMEOUT_MS = 60_000;
const PLUGIN_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Options of {@linkcode invokeCniPlugin}. */
export interface CniInvokeOptions extends CniExecOptions, CniRuntimeArgs {
  /** The network the plugin belongs to: its name and spec version are added to the plugin's configuration. */
  network: Pick<CniNetworkList, "name" | "cniVersion">;
  /** The operation. */
  command: CniCommand;
  /** The previous plugin's result (ADD) or the cached result (DEL, CHECK). */
  prevResult?: CniResult | undefined;
}

/**
 * Runs one plugin and returns what it printed: the result for ADD,
 * `undefined` for DEL and CHECK.
 *
 * @throws {CniError} when the plugin is missing, fails, times out or prints
 *   a result that is not JSON.
 */
export async function invokeCniPlugin(
  plugin: CniPluginConfig,
  options: CniInvokeOptions,
): Promise<CniResult | undefined> {
  const { command, network } = options;
  const fail = (msg: string, extra: Partial<CniErrorFields> = {}) =>
    new CniError({
      plugin: plugin.type,
      command,
      msg,
      ...(options.subject ? { subject: options.subject } : {}),
      ...extra,
    });
  if (!PLUGIN_TYPE.test(plugin.type)) throw fail(`invalid plugin type "${plugin.type}"`);
  const binary = join(options.binDir, plugin.type);
  try {
    const info = await Deno.stat(binary);
    if (!info.isFile) throw new Deno.errors.NotFound(binary);
  } catch (error) {
    throw fail(`no plugin binary at ${binary} (install: apt-get install -y containernetworking-plugins)`, {
      cause: error,
    });
  }

  const config: Record<string, unknown> = { ...plugin, cniVersion: network.cniVersion, name: network.name };
  const runtimeConfig = Object.fromEntries(
    Object.entries(options.runtimeConfig ?? {}).filter(([key]) => plugin.capabilities?.[key] === true),
  );
  if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
  if (options.prevResult !== undefined) config.prevResult = options.prevResult;

  let output;
  try {
    output = await options.exec([binary], {
      stdin: JSON.stringify(config),
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: options.containerId,
        CNI_NETNS: options.netnsPath,
        CNI_IFNAME: options.ifName,
        CNI_PATH: options.binDir,
      },
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      check: false,
      ...(options.netns === undefined ? {} : { netns: options.netns }),
    });
  } catch (error) {
    throw fail(error instanceof CommandError ? error.message : String(error), { cause: error });
  }

  if (output.code !== 0) {
    const reported = parseCniError(output.stdout);
    if (reported) throw fail(reported.msg, reported);
    const said = (output.stderr.trim() || output.stdout.trim()).slice(-2000);
    throw fail(`exited with code ${output.code}${said ? `: ${said}` : ""}`);
  }
  if (command !== "ADD") return undefined;
  try {
    const result = JSON.parse(output.stdout) as CniResult;
    if (typeof result !== "object" || result === null || Array.isArray(result)) throw new TypeError("not an object");
    return result;
  } catch (error) {
    throw fail(`printed a result that is not a JSON object: ${output.stdout.slice(0, 200)}`, { cause: error });
  }
}

/**
 * ADD: runs every plugin of `list` in order, each receiving the previous
 * result, and returns the last plugin's result. When a plugin fails, the
 * plugins already added are not undone: the caller runs
 * {@linkcode delNetworkList}, which is safe on a partly added chain.
 *
 * @throws {CniError} from the first plugin that fails.
 */
export async function addNetworkList(
  list: CniNetworkList,
  options: CniExecOptions & CniRuntimeArgs,
): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) {
    result = await invokeCniPlugin(plugin, { ...options, network: list, command: "ADD", prevResult: result });
  }
  if (result === undefined) throw new TypeError(`Invalid network list "${list.name}": it has no plugins`);
  return result;
}

/**
 * DEL: runs every plugin of `list` in reverse order with the cached ADD
 * result (when there is one). Idempotent, as every plugin's DEL is.
 *
 * @throws {CniError} from the first plugin that fails.
 */
export async function delNetworkList(
  list: CniNetworkList,
  options: CniExecOptions & CniRuntimeArgs & { cached?: CniResult | undefined },
): Promise<void> {
  for (const plugin of [...list.plugins].reverse()) {
    await invokeCniPlugin(plugin, { ...options, network: list, command: "DEL", prevResult: options.cached });
  }
}

/**
 * CHECK: runs every plugin of `list` in order with the cached ADD result.
 *
 * portmap up to 1.1.1 fails CHECK on a sandbox with only IPv4 addresses
 * whenever ip6tables is installed ("could not check ipv6 dnat",
 * containernetworking/plugins#819); that one failure is not held against an
 * IPv4-only sandbox.
 *
 * @throws {CniError} from the first plugin that fails.
 */
export async function checkNetworkList(
  list: CniNetworkList,
  options: CniExecOptions & CniRuntimeArgs & { cached: CniResult },
): Promise<void> {
  const ipv4Only = (options.cached.ips ?? []).every((ip) => !ip.address.includes(":"));
  for (const plugin of list.plugins) {
    try {
      await invokeCniPlugin(plugin, { ...options, network: list, command: "CHECK", prevResult: options.cached });
    } catch (error) {
      const knownPortmapBug = error instanceof CniError && plugin.type === "portmap" && ipv4Only &&
        /could not check ipv6 dnat/.test(error.message);
      if (!knownPortmapBug) throw error;
    }
  }
}

function parseCniError(stdout: string): { msg: string; cniCode?: number; details?: string } | undefined {
  try {
    const parsed = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof parsed !== "object" || parsed === null || typeof parsed.msg !== "string") return undefined;
    return {
      msg: parsed.msg,
      ...(typeof parsed.code === "number" ? { cniCode: parsed.code } : {}),
      ...(typeof parsed.details === "string" && parsed.details !== "" ? { details: parsed.details } : {}),
    };
  } catch {
    return undefined;
  }
}
