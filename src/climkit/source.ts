import type { ClimkitConfig } from "../config/schema.js";
import type { Sink, Source } from "../source.js";
import { describeError } from "../upstream/errors.js";
import { Poller } from "../upstream/poller.js";
import type { Logger } from "../util/log.js";
import { scrub } from "../util/secrets.js";
import { ClimkitApi } from "./api.js";
import { SiteNumbering } from "./numbering.js";
import { ClimkitSite } from "./site.js";

export interface ClimkitSourceOptions {
  logger: Logger;
  /** The clock for token lifetimes, site-local days and staleness (tests move it). */
  now?: () => number;
  /** No new 15-minute interval for this long marks a site offline. Default 60 min: two
   * intervals plus the half hour the service usually lags. */
  staleAfterMs?: number;
  /** How often a site's name, time zone, meters and sensors are read again. Default 1 h. */
  discoveryIntervalMs?: number;
  /** Spacing of one account's requests. Default 1000: Climkit allows 1 request/s. */
  minSpacingMs?: number;
  /** Retries of a request on 429/5xx/timeouts inside one poll. Default 2. */
  retries?: number;
  /** First retry delay, doubled per retry. Default 2 s. */
  retryDelayMs?: number;
}

/**
 * One Source per Climkit account (`climkit:<username>`), each with its own queue, so a slow
 * or failing account never delays another. Topics follow the rule in numbering.ts.
 */
export function createClimkitSources(configs: ClimkitConfig[], options: ClimkitSourceOptions): Source[] {
  const numbering = new SiteNumbering(configs.map((config) => listedSites(config)?.length));
  return configs.map((config, index) => new ClimkitSource(config, index, numbering, options));
}

/** `sites:` as configured; an empty list means every installation, as a missing one does. */
function listedSites(config: ClimkitConfig): string[] | undefined {
  return config.sites && config.sites.length > 0 ? config.sites : undefined;
}

class ClimkitSource implements Source {
  readonly name: string;
  private readonly api: ClimkitApi;
  private readonly poller: Poller;
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly now: () => number;
  private sink: Sink | undefined;
  /** The account's sites, fixed once known (numbers must not move while running). */
  private sites: ClimkitSite[] | undefined;
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly config: ClimkitConfig,
    private readonly index: number,
    private readonly numbering: SiteNumbering,
    private readonly options: ClimkitSourceOptions,
  ) {
    this.name = `climkit:${config.username}`;
    this.logger = options.logger.child({ source: this.name });
    this.now = options.now ?? Date.now;
    this.api = new ClimkitApi(config, index, {
      logger: this.logger,
      now: this.now,
      minSpacingMs: options.minSpacingMs ?? 1000,
      retries: options.retries ?? 2,
      retryDelayMs: options.retryDelayMs ?? 2000,
      signal: this.abort.signal,
    });
    this.poller = new Poller({
      intervalMs: config.interval,
      poll: () => this.poll(),
      onFailure: (error, retryInMs) => {
        if (this.abort.signal.aborted) return;
        this.logger.warn(`${describeError(error)}; next try in ${Math.round(retryInMs / 1000)} s`);
      },
    });
  }

  async start(sink: Sink): Promise<void> {
    this.sink = sink;
    // with listed sites the topics are known before any request: errors can be shown at once
    const topics = this.numbering.known(this.index);
    const listed = listedSites(this.config);
    if (topics && listed) this.sites = this.createSites(listed, topics);
    this.poller.start();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.poller.stop();
    await this.api.close();
  }

  /**
   * An account without `sites:` has no site topic until its first discovery. So that a failed
   * login or an unreachable server is not invisible (no topic, nothing in /healthz or
   * bridge/health), the account itself has a state: `climkit/<n>/online` and `…/error`.
   */
  get accountTopic(): string | undefined {
    return listedSites(this.config) ? undefined : `climkit/${this.index + 1}`;
  }

  private async poll(): Promise<void> {
    let sites: ClimkitSite[];
    try {
      sites = await this.ensureSites();
    } catch (error) {
      if (this.accountTopic && !this.abort.signal.aborted)
        this.report(this.accountTopic, describeError(error));
      throw error;
    }
    if (this.accountTopic) this.report(this.accountTopic, "");
    let failure: unknown;
    let succeeded = 0;
    for (const site of sites) {
      if (this.abort.signal.aborted) return;
      try {
        const stale = await site.poll();
        this.report(site.topic, stale);
        this.sink?.polled(site.topic);
        succeeded += 1;
      } catch (error) {
        if (this.abort.signal.aborted) return;
        failure ??= error;
        this.report(site.topic, describeError(error));
      }
    }
    // the poller backs off only when the whole account fails (login, outage, rate limit)
    if (succeeded === 0 && failure !== undefined) throw failure;
  }

  private async ensureSites(): Promise<ClimkitSite[]> {
    if (this.sites) return this.sites;
    const ids = listedSites(this.config) ?? (await this.api.installations()).map((site) => site.id);
    if (ids.length === 0) {
      throw new Error(
        `Climkit: climkit[${this.index}] (${this.config.username}) sees no installation; access is granted by the site's owner and service@climkit.io`,
      );
    }
    const topics = await this.numbering.claim(this.index, ids.length, this.abort.signal);
    this.sites = this.createSites(ids, topics);
    this.logger.info(`Climkit: ${ids.map((id, i) => `${id} → ${topics[i]}`).join(", ")}`);
    return this.sites;
  }

  private createSites(ids: string[], topics: string[]): ClimkitSite[] {
    const sink = this.sink;
    if (!sink) throw new Error("Climkit: source not started");
    const options = {
      now: this.now,
      staleAfterMs: this.options.staleAfterMs ?? 60 * 60_000,
      discoveryIntervalMs: this.options.discoveryIntervalMs ?? 60 * 60_000,
      configPath: `climkit[${this.index}]`,
      pollNow: () => this.poller.pollNow(),
    };
    return ids.map((id, i) => new ClimkitSite(id, topics[i] ?? `sites/${i + 1}`, this.api, sink, options));
  }

  /** Availability on change only; error texts pass scrub() so no secret can reach a topic. */
  private report(topic: string, error: string): void {
    const text = scrub(error);
    if (this.reported.get(topic) === text) return;
    this.reported.set(topic, text);
    this.sink?.availability(topic, text === "", text);
  }
}
