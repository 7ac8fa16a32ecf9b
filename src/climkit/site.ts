import type { Sink, Values } from "../source.js";
import { UpstreamError } from "../upstream/errors.js";
import type { ClimkitApi } from "./api.js";
import { describeSite } from "./describe.js";
import {
  dayValues,
  meterBase,
  meterEnergy,
  meterInfoValues,
  meterIntervalValues,
  SITE_ENERGY_KEYS,
  sensorBase,
  sensorInfoValues,
  siteEnergies,
  siteIntervalValues,
} from "./mapping.js";
import type { MeterInfo, MeterRow, SensorInfo, SiteInfo, SiteRow } from "./parse.js";
import { IntervalSeries } from "./series.js";
import { localClock } from "./time.js";

/** Climkit is a Swiss service: the zone of a site that names none. */
const DEFAULT_TIME_ZONE = "Europe/Zurich";

export interface SiteOptions {
  now: () => number;
  /** No new interval for this long marks the site offline; also how far back a fresh start looks. */
  staleAfterMs: number;
  discoveryIntervalMs: number;
  /** `climkit[0]`, for errors that tell the user what to fix. */
  configPath: string;
  /** A poll now (`bridge/request/poll`): the account's, which reads all its sites. */
  pollNow?: () => Promise<void>;
}

/**
 * One Climkit site: what it has (refreshed every `discoveryIntervalMs`), its site and meter
 * series fetched incrementally, and its sensors. Each poll publishes what it got as it goes,
 * so a request failing half-way loses nothing already taken.
 */
export class ClimkitSite {
  private info: SiteInfo = {};
  private meters: MeterInfo[] = [];
  private sensors: SensorInfo[] = [];
  private nextDiscovery = Number.NEGATIVE_INFINITY;
  private described = "";
  private readonly series = new IntervalSeries<SiteRow>(siteEnergies);
  private readonly meterSeries = new Map<string, IntervalSeries<MeterRow>>();

  constructor(
    readonly id: string,
    readonly topic: string,
    private readonly api: ClimkitApi,
    private readonly sink: Sink,
    private readonly options: SiteOptions,
  ) {}

  private get timeZone(): string {
    return this.info.timezone ?? DEFAULT_TIME_ZONE;
  }

  /** One poll; resolves with the staleness error ("" when data is current), throws on failure. */
  async poll(): Promise<string> {
    try {
      return await this.pollOnce();
    } catch (error) {
      // a meter or sensor removed upstream answers 404: read the site's lists again next poll
      if (error instanceof UpstreamError && error.kind === "notFound")
        this.nextDiscovery = Number.NEGATIVE_INFINITY;
      throw error;
    }
  }

  private async pollOnce(): Promise<string> {
    const now = this.options.now();
    if (now >= this.nextDiscovery) {
      await this.discover();
      this.nextDiscovery = now + this.options.discoveryIntervalMs;
    }
    const { staleAfterMs } = this.options;
    const zone = this.timeZone;
    const rows = await this.api.siteRows(this.id, this.series.nextFrom(now, zone, staleAfterMs));
    const latest = this.series.add(rows, zone) > 0 ? this.series.latest : undefined;
    if (latest) {
      this.publish({
        ...siteIntervalValues(latest),
        ...dayValues(SITE_ENERGY_KEYS, this.series.dayTotals()),
      });
    }
    for (const meter of this.meters) {
      const series = this.seriesOf(meter.id);
      // meter rows appear with the site's: a meter that has the site's latest interval is done
      const siteEnd = this.series.latest?.end;
      if (siteEnd !== undefined && (series.latest?.end ?? Number.NEGATIVE_INFINITY) >= siteEnd) continue;
      const meterRows = await this.api.meterRows(this.id, meter.id, series.nextFrom(now, zone, staleAfterMs));
      const row = series.add(meterRows, zone) > 0 ? series.latest : undefined;
      if (row) {
        const today = dayValues(["energy"], series.dayTotals(), meterBase(meter.id));
        this.publish({ ...meterIntervalValues(meter, row), ...today });
      }
    }
    for (const sensor of this.sensors) {
      const reading = await this.api.sensorReading(this.id, sensor.id);
      if (reading) this.publish({ [`${sensorBase(sensor.id)}value`]: reading.value });
    }
    return this.staleness(this.options.now());
  }

  private async discover(): Promise<void> {
    let info: SiteInfo;
    try {
      info = await this.api.installationInfo(this.id);
    } catch (error) {
      if (error instanceof UpstreamError && (error.kind === "notFound" || error.kind === "forbidden")) {
        const { configPath } = this.options;
        throw new UpstreamError(
          error.kind,
          `Climkit: site ${this.id} is not visible to ${configPath} (${error.status}): check ${configPath}.sites`,
          error.status,
        );
      }
      throw error;
    }
    const meters = await this.api.meters(this.id);
    const sensors = await this.api.sensors(this.id);
    const gone: Values = {};
    for (const meter of this.meters.filter((old) => !meters.some((m) => m.id === old.id))) {
      for (const key of ["type", "name", "mode", "unit", "power", "energy", "energyToday"]) {
        gone[`${meterBase(meter.id)}${key}`] = null;
      }
      this.meterSeries.delete(meter.id);
    }
    for (const sensor of this.sensors.filter((old) => !sensors.some((s) => s.id === old.id))) {
      for (const key of ["name", "unit", "type", "value"]) gone[`${sensorBase(sensor.id)}${key}`] = null;
    }
    this.info = info;
    this.meters = meters;
    this.sensors = sensors;
    const name = info.name ?? `Climkit ${info.ref ?? this.id}`;
    const description = describeSite({
      id: this.id,
      topic: this.topic,
      name,
      ref: info.ref,
      meters,
      sensors,
    });
    const key = JSON.stringify(description);
    if (key !== this.described) {
      this.described = key;
      this.sink.device({ describe: () => description, pollNow: this.options.pollNow });
    }
    const values: Values = { ...gone, title: name };
    for (const meter of meters) Object.assign(values, meterInfoValues(meter));
    for (const sensor of sensors) Object.assign(values, sensorInfoValues(sensor));
    this.publish(values);
  }

  private seriesOf(meter: string): IntervalSeries<MeterRow> {
    let series = this.meterSeries.get(meter);
    if (!series) {
      series = new IntervalSeries<MeterRow>(meterEnergy);
      this.meterSeries.set(meter, series);
    }
    return series;
  }

  private staleness(now: number): string {
    const since = this.series.since;
    if (since === undefined || now - since <= this.options.staleAfterMs) return "";
    const when = localClock(since, this.timeZone, now);
    return `Climkit: no new 15-minute interval since ${when} (expected one every 15 minutes)`;
  }

  private publish(values: Values): void {
    this.sink.values(this.topic, values);
  }
}
