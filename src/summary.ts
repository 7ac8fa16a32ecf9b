import type { Config } from "./config/schema.js";
import { restWrites } from "./http/evcc-api.js";
import { parseListen } from "./http/health-server.js";
import { embeddedBrokerNotes } from "./mqtt/broker.js";
import { formatDuration } from "./util/duration.js";
import { withoutCredentials } from "./util/url.js";

/** What a configuration would run, in words (`--check`, and the demo banner). No secrets. */
export function describeConfig(config: Config): string[] {
  const lines: string[] = [];
  const broker = config.mqtt.url
    ? `broker ${withoutCredentials(config.mqtt.url)}`
    : `embedded broker on ${config.mqtt.listen}${config.mqtt.username && config.mqtt.password ? " with a login" : ", no login"}`;
  lines.push(`MQTT: ${broker}, topics under ${config.mqtt.topic}/`);
  if (!config.mqtt.url) {
    const login = Boolean(config.mqtt.username && config.mqtt.password);
    for (const note of embeddedBrokerNotes(config.mqtt.listen, login)) {
      lines.push(`${note.level === "warn" ? "WARNING" : "note"}: ${note.text}`);
    }
  }
  for (const charger of config.goe) {
    const where = withoutCredentials(charger.url ?? `https://${charger.serial}.api.v3.go-e.io`);
    lines.push(
      `go-e ${charger.serial} → ${config.mqtt.topic}/loadpoints/${charger.loadpoint} (${where}, every ${formatDuration(charger.interval)})`,
    );
    const surplus = charger.surplus;
    if (surplus) {
      const inputs = (["grid", "pv", "battery"] as const).flatMap((name) =>
        surplus[name] ? [`${name} from ${surplus[name].topic}`] : [],
      );
      lines.push(
        `  PV-surplus feed: ${inputs.join(", ")}; ids every ${formatDuration(surplus.interval)} while readings are under ${formatDuration(surplus.maxAge)} old`,
      );
    }
  }
  for (const account of config.climkit) {
    const sites = account.sites ? account.sites.join(", ") : "every site of the account";
    lines.push(
      `Climkit ${account.username}: ${sites} (${withoutCredentials(account.url)}, every ${formatDuration(account.interval)})`,
    );
  }
  for (const server of config.ovms) {
    const commands = server.commands ? `commands over ${withoutCredentials(server.commands)}` : "no commands";
    for (const vehicle of server.vehicles) {
      const name = vehicle.name ?? vehicle.id.toLowerCase();
      const link = vehicle.loadpoint ? `, linked to loadpoint ${vehicle.loadpoint}` : "";
      lines.push(
        `OVMS ${vehicle.id} → ${config.mqtt.topic}/vehicles/${name} (${withoutCredentials(server.url)}, every ${formatDuration(server.interval)}, ${commands}${link})`,
      );
    }
  }
  lines.push(
    config.homeassistant.discovery
      ? `Home Assistant discovery under ${config.homeassistant.prefix}/`
      : "Home Assistant discovery off",
  );
  const listen = config.http.listen;
  if (!listen) lines.push("no health endpoint, no REST API");
  else {
    const writes = {
      token: "REST writes need the token",
      loopback: "REST writes from this machine without a token",
      refused: "WARNING: REST writes refused: set http.token to allow them on this address",
    }[restWrites(config.http.token, parseListen(listen).host)];
    lines.push(`health, metrics and evcc's REST API on http://${listen}/ (${writes})`);
  }
  return lines;
}
