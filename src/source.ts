// What an upstream offers the daemon. Upstream folders (goe/, climkit/, ovms/) implement these
// interfaces and never import mqtt/; the MQTT side consumes them and never imports an upstream.
// Only daemon.ts knows both.

/** A plain value as evcc encodes it on MQTT; `null` erases the retained value. */
export type Value = number | boolean | string | null;

/**
 * Values of one device, keyed by their topic relative to the device's topic
 * (`chargePower`, `chargeCurrents/l1`, `meters/abc/power`). A key that is absent means
 * "unknown, leave as it is"; a key set to `null` means "no value, erase it".
 */
export type Values = Record<string, Value | undefined>;

/** The answer to a write, published as JSON on `<value topic>/result`. */
export type WriteResult = { ok: true; value: Value } | { ok: false; error: string };

/** What an entity measures; names follow Home Assistant's device classes. */
export type Quantity =
  | "power"
  | "energy"
  | "current"
  | "voltage"
  | "battery"
  | "distance"
  | "temperature"
  | "pressure"
  | "timestamp"
  | "duration"
  | "speed"
  | "volume"
  | "water"
  | "gas"
  | "humidity"
  | "illuminance"
  | "carbon_dioxide";

/** Describes one value a device publishes, or one control it accepts, for discovery and docs. */
export interface Entity {
  /** Topic of the value relative to the device, as in `Values`. */
  key: string;
  /** Human-readable name without the device name: `Charge power`. */
  name: string;
  /**
   * sensor/binary: read-only value. number/select/switch/lock/text: a value with a `/set`
   * topic at `<key>/set` (a lock is a switch that opens something: `true` locked, `false`
   * unlocked; announced so that "turn off all switches" and voice assistants never unlock it;
   * a text is free text, checked by `pattern` in the UI and by the device on write). button: a
   * write-only `<key>/set` with no state. tracker: a position whose `key` names a JSON
   * attributes topic holding `{"latitude","longitude"}`.
   */
  kind: "sensor" | "binary" | "number" | "select" | "switch" | "lock" | "text" | "button" | "tracker";
  quantity?: Quantity;
  /** For binaries: what `true` means, as Home Assistant's binary device classes name it. */
  binaryClass?: "plug" | "battery_charging" | "connectivity";
  unit?: string;
  /** `total_increasing` for counters that only grow; `measurement` for instantaneous values. */
  stateClass?: "measurement" | "total" | "total_increasing";
  /** Diagnostic entities are hidden from the default dashboard. */
  diagnostic?: boolean;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
  /** For selects: how an option is shown where the value itself reads badly (`{"0": "auto"}`). */
  optionLabels?: Record<string, string>;
  /** For text: a regular expression the UI checks before sending. */
  pattern?: string;
  /** For switches and binaries: the payloads meaning on and off (default `true`/`false`). */
  payloadOn?: string;
  payloadOff?: string;
  icon?: string;
}

export interface DeviceDescription {
  /** Stable identity (never derived from a name or topic the user can change): `goe-000001`. */
  id: string;
  /** Topic relative to the root: `loadpoints/1`, `site`, `vehicles/car`. */
  topic: string;
  kind: "loadpoint" | "site" | "vehicle";
  name: string;
  manufacturer: string;
  model: string;
  serial?: string;
  swVersion?: string;
  /** Where a user configures the device (web UI), if there is one. */
  configurationUrl?: string;
  entities: Entity[];
}

/** A device as the daemon sees it: what it is, and how to write to it. */
export interface Device {
  describe(): DeviceDescription;
  /**
   * Carries out a `/set` to `<device topic>/<key>/set`. Validates the payload against the
   * device's limits first: an invalid payload must be refused without any upstream call.
   * Unknown keys are refused too. Resolves (never rejects) with the confirmed value.
   */
  write?(key: string, payload: string): Promise<WriteResult>;
  /**
   * Polls the device now (`bridge/request/poll`), or joins the poll under way. Resolves when
   * it is done, failed or not: the outcome shows in the device's availability.
   */
  pollNow?(): Promise<void>;
}

/** Where a source delivers what it learns. Implemented by the daemon. */
export interface Sink {
  /** Announces a device, or its changed description (new entities, limits, firmware). */
  device(device: Device): void;
  /** New values of a device (only the keys given are touched). */
  values(topic: string, values: Values): void;
  /**
   * Whether the bridge gets data for the device from its upstream. `error` is the latest
   * upstream error in words (no secrets), or "" once it clears.
   */
  availability(topic: string, online: boolean, error: string): void;
  /** A poll succeeded: feeds `<root>/updated` and the health endpoint. */
  polled(topic: string): void;
}

/** One configured upstream account/server/charger: polls, and owns its devices. */
export interface Source {
  /** For logs and metrics: `goe:000001`, `climkit:api-user`, `ovms:demo@host`. */
  readonly name: string;
  start(sink: Sink): Promise<void>;
  /** Stops polling; pending writes are finished or answered before it resolves. */
  stop(): Promise<void>;
}

/** Live power for PV-surplus charging, in W; evcc's signs: grid import and battery discharge positive. */
export interface SurplusReading {
  grid: number;
  pv?: number;
  battery?: number;
}

/**
 * A charger that charges from PV surplus when fed live power (go-e's `ids`). The reading goes
 * through the charger's own request queue, behind writes, and is never answered on `/result`:
 * it is no user write. Readings that arrive while one waits in the queue replace it.
 */
export interface SurplusReceiver {
  feedSurplus(reading: SurplusReading): Promise<WriteResult>;
}

export function receivesSurplus(device: Device): device is Device & SurplusReceiver {
  return typeof (device as Partial<SurplusReceiver>).feedSurplus === "function";
}
