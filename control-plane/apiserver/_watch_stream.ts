/**
 * Watch responses: a stream of newline-delimited JSON events in Kubernetes'
 * shape, with bookmarks, a timeout, and a 410 ERROR event when the
 * requested revision is gone, so clients relist.
 *
 * @module
 */

import { CompactedError, type KubeObject } from "@skiff/api";
import type { Watcher, WatchEvent } from "../store/mod.ts";
import type { ObjectEvent } from "./object_store.ts";

/** What a watch stream needs. */
export interface WatchStreamOptions {
  /** The store watcher (already open). */
  watcher: Watcher;
  /** Turns a batch of store events into object events. */
  events: (batch: WatchEvent[]) => ObjectEvent[];
  /** Synthetic ADDED events sent first (the current state, for watches from "0"). */
  initial: KubeObject[];
  /** Renders an event's object for the client (Table rows, or the object). */
  render: (object: KubeObject, first: boolean) => unknown;
  /** apiVersion and kind of bookmark objects. */
  bookmark: { apiVersion: string; kind: string } | undefined;
  /** The current store revision, for bookmarks. */
  revision: () => number;
  /** Milliseconds between bookmarks. */
  bookmarkIntervalMs: number;
  /** End the stream after this many milliseconds. */
  timeoutMs: number;
  /** Called when the stream ends for any reason. */
  onClose?: () => void;
}

const encoder = new TextEncoder();

function line(type: string, object: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify({ type, object }) + "\n") as Uint8Array<ArrayBuffer>;
}

/** An ERROR event carrying a 410 Status, which tells clients to relist. */
export function goneEvent(message: string): Uint8Array<ArrayBuffer> {
  return line("ERROR", {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: "Expired",
    code: 410,
  });
}

/** Builds the response body of a watch. */
export function watchStream(options: WatchStreamOptions): ReadableStream<Uint8Array> {
  const { watcher } = options;
  let bookmarkTimer: ReturnType<typeof setInterval> | undefined;
  let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let first = true;
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clearInterval(bookmarkTimer);
    clearTimeout(timeoutTimer);
    watcher.close();
    options.onClose?.();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (chunk: Uint8Array) => {
        if (!closed) controller.enqueue(chunk);
      };
      for (const object of options.initial) {
        send(line("ADDED", options.render(object, first)));
        first = false;
      }
      if (options.bookmark) {
        const { apiVersion, kind } = options.bookmark;
        bookmarkTimer = setInterval(() => {
          send(line("BOOKMARK", { apiVersion, kind, metadata: { resourceVersion: String(options.revision()) } }));
        }, options.bookmarkIntervalMs);
      }
      timeoutTimer = setTimeout(() => {
        cleanup();
        controller.close();
      }, options.timeoutMs);
      (async () => {
        try {
          for await (const batch of watcher) {
            for (const event of options.events(batch)) {
              send(line(event.type, options.render(event.object, first)));
              first = false;
            }
          }
          const reason = watcher.closeReason;
          if (reason?.kind === "too-slow") send(goneEvent(reason.message));
        } catch (err) {
          if (err instanceof CompactedError) send(goneEvent(err.message));
          else {
            const message = `The watch ended: ${err instanceof Error ? err.message : String(err)}; watch again`;
            send(
              line("ERROR", { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, code: 500 }),
            );
          }
        }
        if (!closed) {
          cleanup();
          try {
            controller.close();
          } catch {
            // The client went away first.
          }
        }
      })();
    },
    cancel() {
      cleanup();
    },
  });
}
