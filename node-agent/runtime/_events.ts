/**
 * A `ctr events` stream for one containerd namespace that survives
 * containerd restarts: when ctr exits, it is started again (with backoff).
 * Each time, the stream is confirmed live before it is trusted: the runtime
 * sets a label on its namespace, which containerd publishes as a
 * `/namespaces/update` event, and waits to see that event come through.
 * Only then does it call `onReady`, so a caller that lists state in
 * `onReady` misses no event between the list and the stream.
 *
 * `ctr events` dies with the agent, even when the agent is killed with
 * SIGKILL: it runs under `setpriv --pdeathsig KILL` (see `Ctr.events`).
 * Where setpriv is missing, an orphaned ctr lives on only until the next
 * event of the namespace (it dies of SIGPIPE), and the restarted agent's
 * handshake publishes one at once.
 *
 * @module
 */

import { type Ctr, type CtrEvent, parseEventLine } from "./_ctr.ts";
import type { SpawnedProcess } from "./_spawn.ts";

/** Options of {@linkcode EventStream}. */
export interface EventStreamOptions {
  /** Called for every event of the namespace (but the handshake's). */
  onEvent: (event: CtrEvent) => void;
  /** Called each time the stream is (again) live. */
  onReady?: () => void;
  /** Called when the stream breaks or cannot start; it retries. */
  onError?: (error: Error) => void;
  /** How long to wait for the handshake event, per attempt (default 2000 ms). */
  handshakeTimeoutMs?: number;
  /** Longest wait between restarts (default 5000 ms). */
  maxBackoffMs?: number;
}

/** The namespace label used for the handshake. */
export const MARKER_LABEL = "skiff.dev/runtime-events";

/** A self-restarting `ctr events` stream. */
export class EventStream {
  readonly #ctr: Ctr;
  readonly #options: EventStreamOptions;
  #process: SpawnedProcess | undefined;
  #closed = false;
  #ready = false;
  #readyWaiters = new Set<() => void>();
  #started = false;
  #lastError: Error | undefined;
  #marker: { nonce: string; settle: (seen: boolean) => void } | undefined;
  #connecting: Promise<void> | undefined;
  #backoffMs = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #loop: Promise<void> | undefined;

  /** Streams the events of `ctr`'s namespace. */
  constructor(ctr: Ctr, options: EventStreamOptions) {
    this.#ctr = ctr;
    this.#options = options;
  }

  /** Whether the stream is live (handshake seen, ctr still running). */
  get ready(): boolean {
    return this.#ready;
  }

  /** The `ctr events` process id, while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Starts the stream (once); it keeps reconnecting until closed. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#attempt();
  }

  /**
   * Resolves when the stream is live (at once if it is).
   *
   * @throws {Error} when it is not live within `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(done);
        reject(
          new Error(
            `Cannot subscribe to containerd events in namespace "${this.#ctr.namespace}" at "${this.#ctr.address}" ` +
              `within ${timeoutMs} ms${this.#lastError ? `: ${this.#lastError.message}` : ""}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#readyWaiters.add(done);
    });
  }

  /** Stops the stream for good and waits for ctr to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ready = false;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#process?.kill("SIGTERM");
    await this.#connecting;
    await this.#loop;
  }

  #attempt(): void {
    this.#connecting = this.#connect().catch((error) => {
      if (!this.#closed) this.#options.onError?.(error as Error);
    });
  }

  async #connect(): Promise<void> {
    let proc: SpawnedProcess;
    try {
      proc = this.#ctr.events();
    } catch (error) {
      this.#lastError = error as Error;
      this.#scheduleRestart();
      throw error;
    }
    this.#process = proc;
    this.#loop = this.#read(proc);
    try {
      await this.#handshake(proc);
    } catch (error) {
      this.#lastError = error as Error;
      // Its read loop sees it exit and schedules the next attempt.
      proc.kill("SIGTERM");
      throw error;
    }
    if (this.#closed) return;
    this.#ready = true;
    this.#backoffMs = 0;
    this.#lastError = undefined;
    for (const resolve of [...this.#readyWaiters]) resolve();
    this.#readyWaiters.clear();
    this.#options.onReady?.();
  }

  async #handshake(proc: SpawnedProcess): Promise<void> {
    const timeout = this.#options.handshakeTimeoutMs ?? 2_000;
    for (let attempt = 0;; attempt++) {
      const nonce = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const seen = new Promise<boolean>((resolve) => {
        this.#marker = { nonce, settle: resolve };
        timer = setTimeout(() => resolve(false), timeout);
      });
      try {
        await this.#ctr.labelNamespace(MARKER_LABEL, nonce);
        if (await seen) return;
      } finally {
        clearTimeout(timer);
        this.#marker = undefined;
      }
      if (this.#closed || this.#process !== proc || attempt >= 4) {
        throw new Error(`Cannot subscribe to containerd events in namespace "${this.#ctr.namespace}": no event came`);
      }
    }
  }

  async #read(proc: SpawnedProcess): Promise<void> {
    try {
      for await (const line of proc.lines) {
        const event = parseEventLine(line);
        if (!event) continue;
        if (event.topic === "/namespaces/update") {
          const labels = event.data.labels as Record<string, string> | undefined;
          if (this.#marker && labels?.[MARKER_LABEL] === this.#marker.nonce) this.#marker.settle(true);
          continue;
        }
        try {
          this.#options.onEvent(event);
        } catch (error) {
          this.#options.onError?.(error as Error);
        }
      }
    } finally {
      if (this.#process === proc) this.#process = undefined;
      this.#ready = false;
      // A handshake in progress will not see its event now.
      this.#marker?.settle(false);
      const status = await proc.status;
      const stderr = (await proc.stderr.catch(() => "")).trim();
      if (!this.#closed) {
        this.#lastError = new Error(`ctr events exited with code ${status.code}${stderr ? `: ${stderr}` : ""}`);
        this.#options.onError?.(
          new Error(
            `The containerd event stream ended (exit code ${status.code})${
              stderr ? `: ${stderr.split("\n").at(-1)}` : ""
            }; reconnecting`,
          ),
        );
        this.#scheduleRestart();
      }
    }
  }

  #scheduleRestart(): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    this.#backoffMs = Math.min(this.#options.maxBackoffMs ?? 5_000, Math.max(250, this.#backoffMs * 2));
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#closed) this.#attempt();
    }, this.#backoffMs);
  }
}
