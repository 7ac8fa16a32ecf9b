import type { Config } from "./config/schema.js";

/**
 * Retained topics under the root that belong to a device this configuration does not have:
 * the values of a charger, site or car that was removed (or of the demo, run on this root).
 * Only the bridge's own kinds of topics count: device values under `loadpoints/<n>/`, `site/`,
 * `sites/<n>/` and `vehicles/<name>/`. Anything else under the root is left alone, and a
 * configured Climkit account keeps every site topic, since its sites are known only once it
 * has logged in.
 */
export function unownedTopics(config: Config, retained: readonly string[]): string[] {
  const root = config.mqtt.topic;
  const loadpoints = new Set(config.goe.map((charger) => String(charger.loadpoint)));
  const vehicles = new Set(
    config.ovms.flatMap((server) =>
      server.vehicles.map((vehicle) => vehicle.name ?? vehicle.id.toLowerCase()),
    ),
  );
  const sites = config.climkit.length > 0;
  return retained.filter((topic) => {
    if (!topic.startsWith(`${root}/`)) return false;
    const parts = topic.slice(root.length + 1).split("/");
    // a retained /set is the write router's business (it answers and clears it)
    if (parts.at(-1) === "set") return false;
    const [kind, id] = parts;
    if (kind === "loadpoints" && parts.length >= 3 && /^\d+$/.test(id ?? "")) return !loadpoints.has(id!);
    if (kind === "vehicles" && parts.length >= 3) return !vehicles.has(id!);
    if (kind === "site" && parts.length >= 2) return !sites;
    if (kind === "sites" && parts.length >= 3 && /^\d+$/.test(id ?? "")) return !sites;
    return false;
  });
}
