/**
 * The agent's half of power on demand: it reports the MAC address of the
 * interface carrying the node's InternalIP (annotation
 * `power.skiff.dev/mac`, what Wake-on-LAN needs), and when the cloud
 * controller asks its Node to sleep (annotation `power.skiff.dev/state:
 * Sleeping` with a request id in `power.skiff.dev/sleep-request`) it marks
 * the request done (`power.skiff.dev/sleep-done`, so it acts on each
 * request once, across restarts too), gives up what it announces, and runs
 * `systemctl suspend` or `poweroff` (annotation `power.skiff.dev/sleep-mode`).
 * After a suspend the command returns when the machine wakes, and the
 * agent carries on.
 *
 * @module
 */

import {
  ANNOTATION_POWER_MAC,
  ANNOTATION_POWER_SLEEP_DONE,
  ANNOTATION_POWER_SLEEP_MODE,
  ANNOTATION_POWER_SLEEP_REQUEST,
  ANNOTATION_POWER_STATE,
  type Node,
} from "@skiff/api";
import type { ApiClient, EventRecorder, SharedInformers } from "@skiff/client";
import type { Exec } from "../_exec.ts";

/** The command that puts the machine to sleep in `mode` (`suspend` unless `poweroff`). */
export function sleepCommand(mode: string | undefined): string[] {
  return mode === "poweroff" ? ["systemctl", "poweroff"] : ["systemctl", "suspend"];
}

/** Options of {@linkcode PowerAgent}. */
export interface PowerAgentOptions {
  /** The API client (the node's credentials). */
  client: ApiClient;
  /** Shared informers (the node's own Node is watched). */
  informers: SharedInformers;
  /** This node's name. */
  nodeName: string;
  /** The MAC address of the InternalIP's interface; empty when unknown. */
  mac: string;
  /** Runs the sleep command. */
  exec: Exec;
  /** Records Events about the Node. */
  recorder: EventRecorder;
  /** Called before the machine sleeps (give up LoadBalancer addresses). */
  beforeSleep: () => Promise<void>;
  /** Called once the machine is awake again after a suspend. */
  afterWake: () => void;
  /** Log line sink. */
  log: (line: string) => void;
}

/** Reports how to wake this machine, and puts it to sleep when asked. */
export class PowerAgent {
  #options: PowerAgentOptions;
  #acting: Promise<void> | undefined;

  /** Creates the power agent; call {@linkcode PowerAgent.start} before the informers start. */
  constructor(options: PowerAgentOptions) {
    this.#options = options;
  }

  /** Resolves when a sleep in progress is done (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.#acting;
  }

  /** Reports the MAC address and follows the node's own Node. */
  async start(): Promise<void> {
    const { client, nodeName, mac, informers } = this.#options;
    if (mac) {
      await client.kind<Node>("v1", "Node").patch(nodeName, {
        metadata: { annotations: { [ANNOTATION_POWER_MAC]: mac } },
      });
    }
    const own = informers.for<Node>("v1", "Node", { fieldSelector: `metadata.name=${nodeName}` });
    const check = (node: Node) => {
      if (node.metadata.name !== nodeName) return;
      const annotations = node.metadata.annotations ?? {};
      const request = annotations[ANNOTATION_POWER_SLEEP_REQUEST];
      if (annotations[ANNOTATION_POWER_STATE] !== "Sleeping" || !request) return;
      if (annotations[ANNOTATION_POWER_SLEEP_DONE] === request || this.#acting) return;
      this.#acting = this.#sleep(node, request, annotations[ANNOTATION_POWER_SLEEP_MODE]).finally(() => {
        this.#acting = undefined;
      });
    };
    own.on({ add: check, update: (_old, node) => check(node) });
  }

  async #sleep(node: Node, request: string, mode: string | undefined): Promise<void> {
    const { client, nodeName, exec, recorder, log } = this.#options;
    const command = sleepCommand(mode);
    try {
      await client.kind<Node>("v1", "Node").patch(nodeName, {
        metadata: { annotations: { [ANNOTATION_POWER_SLEEP_DONE]: request } },
      });
      await this.#options.beforeSleep();
      recorder.event(node, "Normal", "GoingToSleep", `Running "${command.join(" ")}" as the cloud controller asked`);
      await recorder.flush();
      log(`Power: the cloud controller asked this machine to sleep: running "${command.join(" ")}"`);
      await exec(command, { timeoutMs: 60_000 });
      log("Power: awake again after sleeping");
      recorder.event(node, "Normal", "Resumed", "The machine is awake again");
    } catch (err) {
      const why = `Cannot put the machine to sleep with "${command.join(" ")}": ${
        (err as Error).message
      }; check that systemd runs and the agent may suspend the machine`;
      recorder.event(node, "Warning", "SleepFailed", why);
      log(`Power: ${why}`);
    } finally {
      this.#options.afterWake();
    }
  }
}
