/**
 * The homelab cloud controller: the cloud provider interface (in the shape
 * of Kubernetes'), the homelab provider, LoadBalancer address pools and
 * their controller, and power on demand with Wake-on-LAN.
 *
 * @module
 */

export * from "./address_pool.ts";
export * from "./cloud_controllers.ts";
export * from "./homelab_provider.ts";
export * from "./lb_allocator.ts";
export * from "./load_balancer_controller.ts";
export * from "./power_controller.ts";
export * from "./power_policy.ts";
export * from "./provider.ts";
export * from "./wake_on_lan.ts";
