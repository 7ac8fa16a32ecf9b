// The fixed strings of Home Assistant discovery: how the bridge marks its configs, and the
// templates HA renders the bridge's payloads with (an empty payload is "no value").

/** `origin.name` of every config: how the bridge recognises its own configs on the broker. */
export const ORIGIN_NAME = "ev2mqtt";

/** The payload HA sends to a button's command topic (the bridge ignores empty payloads). */
export const PAYLOAD_PRESS = "PRESS";

/**
 * The bridge publishes an empty payload for "no value". HA's MQTT entities read the rendered
 * `None` as unknown (sensor, binary_sensor, switch, select and number's payload_reset), so an
 * erased value shows as unknown instead of a template or parse error.
 */
export const VALUE_TEMPLATE = "{{ value if value else None }}";
/** Unix seconds to a date-time HA can store; empty → unknown. */
export const TIMESTAMP_TEMPLATE = "{{ as_datetime(value | int) if value else None }}";
/**
 * An erased location becomes null coordinates: HA's MQTT tracker keeps its last position for an
 * attribute set without `latitude`/`longitude` (`{}`), but clears it (state unknown) when they
 * are present and not numbers; it logs a warning about the incomplete location each time.
 */
export const ATTRIBUTES_TEMPLATE = `{{ value if value else '{"latitude": null, "longitude": null}' }}`;
/** The bridge's log level, from the JSON of `bridge/info`. */
export const LOG_LEVEL_TEMPLATE = "{{ value_json.log_level if value else None }}";
