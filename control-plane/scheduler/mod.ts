/**
 * The scheduler: a queue of pending pods, a filter -> score framework of
 * plugins registered by name (Kubernetes' own plus Skiff's hardware
 * plugins: LiveUsage, Thermal, Devices), an incremental cluster cache, and
 * binding through `pods/binding`. It is a controller: the controller
 * manager runs it.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./mod.ts";
 * const scheduler = new Scheduler({ maxTemperatureCelsius: 70 });
 * // new ControllerManager({ client, identity, controllers: [scheduler, …] }).start();
 * ```
 *
 * @module
 */

export * from "./scheduler.ts";
export * from "./framework.ts";
export * from "./find_node.ts";
export * from "./cache.ts";
export * from "./scheduling_queue.ts";
export * from "./summary.ts";
export * from "./resources.ts";
export { PLUGINS } from "./registry.ts";
export { TAINT_THERMAL_PRESSURE } from "./plugins/thermal.ts";
