import { BridgeInfo } from "./bridge-info.js";
import type { BridgeContext, Extension } from "./extension.js";
import { HomeAssistantDiscovery } from "./homeassistant/discovery.js";
import { healthExtensions } from "./http/health-server.js";
import { SurplusFeed } from "./surplus/feed.js";

/** The extensions a daemon runs, in start order (stopped in reverse). */
export function defaultExtensions(context: BridgeContext): Extension[] {
  return [
    new BridgeInfo(context),
    new HomeAssistantDiscovery(context),
    ...healthExtensions(context),
    new SurplusFeed(context),
  ];
}
