/**
 * The cloud controller manager's controllers on the homelab provider: the
 * LoadBalancer controller always (its pool may come later, through the
 * ConfigMap), the power controller when power management is on.
 *
 * @module
 */

import type { ApiClient } from "@skiff/client";
import type { Controller } from "../controllers/mod.ts";
import { HomelabProvider } from "./homelab_provider.ts";
import { LoadBalancerController } from "./load_balancer_controller.ts";
import { PowerController } from "./power_controller.ts";
import type { SleepMode } from "./provider.ts";

/** Power on demand settings (`skiff up --power-management`). */
export interface PowerManagementOptions {
  /** Milliseconds a node runs only DaemonSet pods before it sleeps (default 30 min). */
  idleMs?: number;
  /** Milliseconds a woken node has to come back before the packet is sent again (default 5 min). */
  wakeTimeoutMs?: number;
  /** How machines sleep (default `suspend`). */
  sleepMode?: SleepMode;
}

/** Options of {@linkcode cloudControllers}. */
export interface CloudControllerOptions {
  /** The LoadBalancer pool from `--lb-pool` (ranges and CIDRs); default none. */
  lbPool?: string;
  /** Power on demand; off when absent. */
  powerManagement?: PowerManagementOptions;
}

/**
 * The cloud controllers, on one homelab provider writing through `client`.
 *
 * @throws {TypeError} when `lbPool` is not a valid pool, naming the entry
 */
export function cloudControllers(client: ApiClient, options: CloudControllerOptions = {}): Controller[] {
  const provider = new HomelabProvider({ client, ...(options.lbPool ? { lbPool: options.lbPool } : {}) });
  const controllers: Controller[] = [new LoadBalancerController({ provider })];
  if (options.powerManagement) controllers.push(new PowerController({ provider, ...options.powerManagement }));
  return controllers;
}
