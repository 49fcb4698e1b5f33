/**
 * The node's part of the homelab cloud controller: LoadBalancer address
 * announcement and power actions.
 *
 * @module
 */

export * from "./agent_cloud.ts";
export * from "./lb_announcer.ts";
export * from "./power_agent.ts";
