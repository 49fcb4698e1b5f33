/**
 * Writes the scheduler's events without slowing scheduling down: events
 * wait while pods are being scheduled and bound, then go out in batches.
 * Like Kubernetes' event broadcaster, it is best effort: past `maxBacklog`
 * waiting events the oldest are dropped (and counted).
 *
 * @module
 */

import type { KubeObject } from "@skiff/api";
import type { EventRecorder } from "@skiff/client";

interface PendingEvent {
  obj: KubeObject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

const BATCH = 32;

/** The pump. */
export class EventPump {
  #recorder: EventRecorder;
  #busy: () => boolean;
  #maxBacklog: number;
  #pending: PendingEvent[] = [];
  #head = 0;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  /** Events dropped because the backlog was full. */
  dropped = 0;

  /** Creates a pump writing through `recorder` whenever `busy()` says the scheduler is idle. */
  constructor(recorder: EventRecorder, options: { busy: () => boolean; maxBacklog?: number }) {
    this.#recorder = recorder;
    this.#busy = options.busy;
    this.#maxBacklog = options.maxBacklog ?? 10_000;
  }

  /** Queues an event. */
  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.#closed) return;
    if (this.#pending.length - this.#head >= this.#maxBacklog) {
      this.#head++;
      this.dropped++;
    }
    this.#pending.push({ obj, type, reason, message });
    this.#running ??= this.#run();
  }

  /** Tells the pump the scheduler may have become idle. */
  poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Writes what is queued (busy or not) and stops taking events. */
  async close(): Promise<void> {
    this.#closed = true;
    this.poke();
    await this.#running;
    await this.#recorder.flush();
  }

  async #run(): Promise<void> {
    while (this.#head < this.#pending.length) {
      if (!this.#closed && this.#busy()) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const end = Math.min(this.#pending.length, this.#head + BATCH);
      for (let i = this.#head; i < end; i++) {
        const e = this.#pending[i]!;
        this.#recorder.event(e.obj, e.type, e.reason, e.message);
      }
      this.#head = end;
      if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
        this.#pending = this.#pending.slice(this.#head);
        this.#head = 0;
      }
      await this.#recorder.flush();
    }
    this.#running = undefined;
  }
}
