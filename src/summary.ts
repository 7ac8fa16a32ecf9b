import type { Config } from "./config/schema.js";
import { formatDuration } from "./util/duration.js";

/** What a configuration would run, in words (`--check`, and the demo banner). No secrets. */
export function describeConfig(config: Config): string[] {
  const lines: string[] = [];
  const broker = config.mqtt.url
    ? `broker ${config.mqtt.url.replace(/\/\/[^@/]*@/, "//")}`
    : `embedded broker on ${config.mqtt.listen}`;
  lines.push(`MQTT: ${broker}, topics under ${config.mqtt.topic}/`);
  for (const charger of config.goe) {
    const where = charger.url ? charger.url : `https://${charger.serial}.api.v3.go-e.io`;
    lines.push(
      `go-e ${charger.serial} → ${config.mqtt.topic}/loadpoints/${charger.loadpoint} (${where}, every ${formatDuration(charger.interval)})`,
    );
  }
  for (const account of config.climkit) {
    const sites = account.sites ? account.sites.join(", ") : "every site of the account";
    lines.push(
      `Climkit ${account.username}: ${sites} (${account.url}, every ${formatDuration(account.interval)})`,
    );
  }
  for (const server of config.ovms) {
    const commands = server.commands ? `commands over ${server.commands}` : "no commands";
    for (const vehicle of server.vehicles) {
      const name = vehicle.name ?? vehicle.id.toLowerCase();
      const link = vehicle.loadpoint ? `, linked to loadpoint ${vehicle.loadpoint}` : "";
      lines.push(
        `OVMS ${vehicle.id} → ${config.mqtt.topic}/vehicles/${name} (${server.url}, every ${formatDuration(server.interval)}, ${commands}${link})`,
      );
    }
  }
  lines.push(
    config.homeassistant.discovery
      ? `Home Assistant discovery under ${config.homeassistant.prefix}/`
      : "Home Assistant discovery off",
  );
  lines.push(
    config.http.listen ? `health and metrics on http://${config.http.listen}/` : "no health endpoint",
  );
  return lines;
}
