/**
 * Thermal: nodes hotter than the threshold (default 75 °C), throttling, or
 * reporting the ThermalPressure condition take no new pods; among the
 * rest, cooler nodes are preferred. Readings come from the agent's node
 * annotations and conditions. Pods tolerating the
 * `node.skiff.dev/thermal-pressure` NoSchedule taint (monitoring
 * DaemonSets) may land on hot nodes anyway.
 *
 * @module
 */

import { type Node, tolerates } from "@skiff/api";
import {
  ANNOTATION_TEMPERATURE_CELSIUS,
  ANNOTATION_THROTTLED,
  CONDITION_THERMAL_PRESSURE,
  TAINT_NODE_THERMAL_PRESSURE,
} from "@skiff/api";
import { MAX_NODE_SCORE, type Plugin, type PluginConfig } from "../framework.ts";

/** The plugin's name. */
export const THERMAL = "Thermal";
/** The taint key whose NoSchedule toleration lets a pod ignore this plugin's filter. */
export const TAINT_THERMAL_PRESSURE: string = TAINT_NODE_THERMAL_PRESSURE;
/** Why a throttling node was refused. */
export const REASON_THROTTLED = "node(s) were throttled";
/** Why a node with the ThermalPressure condition was refused. */
export const REASON_THERMAL_PRESSURE = "node(s) had thermal pressure";
/** The temperature scored best: at or below it a node gets the full score. */
export const COOL_CELSIUS = 20;

/** A node's thermal state, as its agent reports it. */
export interface ThermalReading {
  /** Temperature in °C, when reported. */
  temperatureCelsius: number | undefined;
  /** Throttling now. */
  throttled: boolean;
  /** The ThermalPressure condition is True. */
  pressure: boolean;
}

const readings = new WeakMap<Node, ThermalReading>();

/** Reads a node's annotations and conditions (cached per version of the node). */
export function thermalReading(node: Node): ThermalReading {
  let reading = readings.get(node);
  if (!reading) {
    const annotations = node.metadata.annotations;
    const raw = annotations?.[ANNOTATION_TEMPERATURE_CELSIUS];
    const temperature = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
    reading = {
      temperatureCelsius: Number.isFinite(temperature) ? temperature : undefined,
      throttled: annotations?.[ANNOTATION_THROTTLED] === "true",
      pressure: node.status?.conditions?.some((c) => c.type === CONDITION_THERMAL_PRESSURE && c.status === "True") ??
        false,
    };
    readings.set(node, reading);
  }
  return reading;
}

function degrees(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** Why a node this hot was refused: `node too hot (81°C > 75°C)`. */
export function tooHotReason(temperatureCelsius: number, maxCelsius: number): string {
  return `node too hot (${degrees(temperatureCelsius)}°C > ${degrees(maxCelsius)}°C)`;
}

/** Why the node may not take new pods, or undefined when it may. */
export function thermalRefusal(reading: ThermalReading, maxCelsius: number): string | undefined {
  if (reading.temperatureCelsius !== undefined && reading.temperatureCelsius > maxCelsius) {
    return tooHotReason(reading.temperatureCelsius, maxCelsius);
  }
  if (reading.throttled) return REASON_THROTTLED;
  if (reading.pressure) return REASON_THERMAL_PRESSURE;
  return undefined;
}

/** 100 at or below 20 °C falling to 0 at the threshold; 50 when the temperature is unknown. */
export function coolnessScore(temperatureCelsius: number | undefined, maxCelsius: number): number {
  if (temperatureCelsius === undefined) return MAX_NODE_SCORE / 2;
  const span = Math.max(1, maxCelsius - COOL_CELSIUS);
  return Math.min(MAX_NODE_SCORE, Math.max(0, MAX_NODE_SCORE * (maxCelsius - temperatureCelsius) / span));
}

/** Makes the plugin with the configured threshold. */
export function thermal(config: PluginConfig): Plugin<{ ignoreHeat: boolean }> {
  const max = config.maxTemperatureCelsius;
  const taint = { key: TAINT_THERMAL_PRESSURE, effect: "NoSchedule" as const };
  return {
    name: THERMAL,
    prepare: (pod) => ({ ignoreHeat: (pod.pod.spec?.tolerations ?? []).some((t) => tolerates(t, taint)) }),
    filter: (_pod, node, state) => state.ignoreHeat ? undefined : thermalRefusal(thermalReading(node.node), max),
    score: (_pod, node) => coolnessScore(thermalReading(node.node).temperatureCelsius, max),
  };
}
