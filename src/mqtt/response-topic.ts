// Where the bridge may send the answer of an MQTT 5 request (its response topic). Anyone who
// may publish a /set chooses that topic, so obeying it blindly let a refused write wake a
// car, run a shell command or overwrite a state topic (issue 13.9). The rule:
// - a valid topic name (no wildcard, no NUL, not `$…`);
// - no level named `set` or `request`: those are command topics, here and in other bridges
//   (evcc, zigbee2mqtt `…/set` and `bridge/request/…`, Home Assistant command topics);
// - nothing under the bridge's own root except an answer topic (last level `result`), and
//   nothing under the Home Assistant discovery prefix.
// A write whose response topic breaks the rule is refused (on its /result) and not carried out.

const COMMAND_LEVELS = new Set(["set", "request"]);

function under(topic: string, prefix: string): boolean {
  return topic === prefix || topic.startsWith(`${prefix}/`);
}

/** Why the bridge won't answer on `topic`, or undefined if it may. */
export function responseTopicRefusal(
  topic: string,
  root: string,
  protectedPrefixes: readonly string[],
): string | undefined {
  if (topic === "" || /[+#\0]/.test(topic) || topic.startsWith("$")) {
    return "refused: the MQTT 5 response topic is not a topic the bridge can publish to";
  }
  const levels = topic.split("/");
  if (levels.some((level) => COMMAND_LEVELS.has(level))) {
    return "refused: the MQTT 5 response topic is a command topic (a level named set or request); the bridge never answers there";
  }
  if (under(topic, root) && levels.at(-1) !== "result") {
    return "refused: the MQTT 5 response topic is one of the bridge's own topics; only …/result topics are allowed under its root";
  }
  if (protectedPrefixes.some((prefix) => prefix !== "" && under(topic, prefix))) {
    return "refused: the MQTT 5 response topic is under the Home Assistant discovery prefix";
  }
  return undefined;
}
