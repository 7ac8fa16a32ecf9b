import { BridgeInfo } from "./bridge-info.js";
import { BridgeHealth, BridgeRequests } from "./bridge-requests.js";
import type { BridgeContext, Extension } from "./extension.js";
import { HomeAssistantDiscovery } from "./homeassistant/discovery.js";
import { healthExtensions } from "./http/health-server.js";
import { SurplusFeed } from "./surplus/feed.js";

/** The extensions a daemon runs, in start order (stopped in reverse). */
export function defaultExtensions(context: BridgeContext): Extension[] {
  const info = new BridgeInfo(context);
  return [
    info,
    new BridgeRequests(context, () => info.publish()),
    new BridgeHealth(context),
    new HomeAssistantDiscovery(context),
    ...healthExtensions(context),
    new SurplusFeed(context),
  ];
}
