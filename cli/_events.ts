/**
 * Reading Events: those about one object (for `describe`) and the columns
 * `skiff events` prints.
 *
 * @module
 */

import { age, type KubeObject } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import { type EventLike, eventTime } from "./_describe.ts";

/** The Events about `obj`, oldest first. */
export async function eventsFor(client: ApiClient, obj: KubeObject): Promise<EventLike[]> {
  const fields = [`involvedObject.name=${obj.metadata.name}`, `involvedObject.kind=${obj.kind}`];
  if (obj.metadata.namespace) fields.push(`involvedObject.namespace=${obj.metadata.namespace}`);
  if (obj.metadata.uid && obj.kind !== "Node") fields.push(`involvedObject.uid=${obj.metadata.uid}`);
  const list = await client.kind<EventLike>("v1", "Event").listAll({
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    fieldSelector: fields.join(","),
  });
  return sortEvents(list.items);
}

/** Sorts events by when they last happened, oldest first. */
export function sortEvents(events: EventLike[]): EventLike[] {
  const at = (e: EventLike) => Date.parse(eventTime(e) ?? "") || 0;
  return [...events].sort((a, b) => at(a) - at(b));
}

/** The cells `skiff events` prints for an event: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE. */
export function eventCells(e: EventLike, now: number): string[] {
  const involved = (e.involvedObject ?? {}) as { kind?: string; name?: string };
  const count = e.count ?? 1;
  const last = age(eventTime(e), now);
  return [
    count > 1 ? `${last} (x${count} over ${age(e.firstTimestamp ?? eventTime(e), now)})` : last,
    e.type ?? "",
    e.reason ?? "",
    `${String(involved.kind ?? "").toLowerCase()}/${involved.name ?? ""}`,
    String(e.message ?? "").trim(),
  ];
}
