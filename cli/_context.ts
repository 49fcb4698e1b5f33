/**
 * What every command shares: the {@linkcode Io}, the global flags
 * (`--kubeconfig`, `--context`, `-n`), and the connection to the API server
 * they select.
 *
 * @module
 */

import type { Command } from "commander";
import { ApiClient, createTlsFetch, loadKubeconfig, type ResolvedKubeconfig, type Transport } from "@skiff/client";
import type { ConnectionHint } from "./_errors.ts";
import type { Io } from "./_io.ts";
import { type Palette, paletteFor } from "./_color.ts";
import { CLI_VERSION } from "./_version.ts";

/** The flags every command accepts. */
export interface GlobalOptions {
  /** `--kubeconfig`. */
  kubeconfig?: string;
  /** `--context`. */
  context?: string;
  /** `-n, --namespace`. */
  namespace?: string;
}

/** A live connection to the API server, as the kubeconfig and flags chose it. */
export interface Connection {
  /** The typed client. */
  client: ApiClient;
  /** The namespace to use: `-n`, else the context's, else `default`. */
  namespace: string;
  /** Whether `-n` was given (apply refuses objects of another namespace then). */
  namespaceFromFlag: boolean;
  /** The resolved kubeconfig (server, CA, token), for raw connections such as exec. */
  config: ResolvedKubeconfig;
}

/** The shared state of one run of the program. */
export class CliContext {
  /** Streams, environment and clock. */
  readonly io: Io;
  /** What error lines may mention about the connection. */
  readonly hint: ConnectionHint = {};
  #connections: Connection[] = [];

  /** Creates the context of one run. */
  constructor(io: Io) {
    this.io = io;
  }

  /** Colours for standard output. */
  get out(): Palette {
    return paletteFor(this.io.stdout, this.io);
  }

  /** Colours for standard error. */
  get err(): Palette {
    return paletteFor(this.io.stderr, this.io);
  }

  /** Writes to standard output. */
  print(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes a `Warning: …` line to standard error. */
  warn(text: string): void {
    this.io.stderr.write(`${this.err.yellow("Warning:")} ${text}\n`);
  }

  /** Writes an `error: …` line to standard error (for failures that do not stop the command). */
  error(text: string): void {
    this.io.stderr.write(`${this.err.red("error:")} ${text}\n`);
  }

  /** The global flags as given to `command` (or any of its parents). */
  globals(command: Command): GlobalOptions {
    return command.optsWithGlobals<GlobalOptions>();
  }

  /**
   * Connects as the kubeconfig says. The connection is closed when the run
   * ends ({@linkcode CliContext.close}).
   *
   * @throws {KubeconfigError} when no usable kubeconfig is found
   */
  async connect(command: Command): Promise<Connection> {
    const flags = this.globals(command);
    const config = await loadKubeconfig({
      ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
      ...(flags.context !== undefined ? { context: flags.context } : {}),
      ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
      env: { KUBECONFIG: this.io.env("KUBECONFIG"), HOME: this.io.env("HOME") },
    });
    this.hint.server = config.server;
    this.hint.kubeconfigFiles = config.files;
    this.hint.userName = config.userName;
    let transport: Transport;
    let close: () => void;
    if (new URL(config.server).protocol === "http:") {
      transport = (req) => fetch(req);
      close = () => {};
    } else {
      const tls = createTlsFetch(
        config.caPem !== undefined ? { caPem: config.caPem } : {
          insecure: config.insecureSkipTlsVerify,
        },
      );
      transport = tls;
      close = () => tls.close();
    }
    const client = new ApiClient({
      server: config.server,
      ...(config.token !== undefined ? { token: config.token } : {}),
      transport,
      userAgent: `skiff/${CLI_VERSION}`,
      close,
    });
    const connection: Connection = {
      client,
      namespace: config.namespace,
      namespaceFromFlag: flags.namespace !== undefined,
      config,
    };
    this.#connections.push(connection);
    return connection;
  }

  /** Closes every connection opened during the run. */
  close(): void {
    for (const connection of this.#connections.splice(0)) connection.client.close();
  }
}
