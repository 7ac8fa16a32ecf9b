import type { GoeStatus } from "./api.js";
import { LMO_AUTOMATIC_STOP } from "./mapping-settings.js";

// What the bridge must remember between polls of one charger, because the charger does not
// report it: where the session's energy started on the total counter, and which logic mode
// was in force before a departure plan took over.
//
// sessionEnergy: go-e's own `wh` sticks or restarts at 0 when the charger switches phases
// (evcc#10452, #13726), so the session is counted on the total counter `eto` from the moment
// the car connected. That moment lies up to a poll before the bridge sees the car: the start is
// backdated by the charger's `wh` then (fresh at that point), but never before the last `eto`
// seen while no car was there. `wh` alone is used only where `eto` cannot work:
// - the bridge starts while a car is already connected: the session's start on `eto` is
//   taken as `eto - wh` once, then `eto` counts on (a phase switch before the bridge started
//   is then missed, as the charger's own figure misses it);
// - the charger reports no `eto`, or `eto` goes backwards (a replaced or reset counter): the
//   start is taken from `wh` again.

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export class ChargerHistory {
  private carConnected: boolean | undefined;
  private sessionStartEto: number | undefined;
  /** `eto` while no car was connected: nothing charged since, so no session starts before it. */
  private etoWithoutCar: number | undefined;
  private logicModeBeforePlan: number | undefined;

  /** Takes one poll's status; returns the session energy in Wh, if it can be told. */
  observe(status: GoeStatus): number | undefined {
    const lmo = finite(status.lmo);
    if (lmo !== undefined && lmo !== LMO_AUTOMATIC_STOP) this.logicModeBeforePlan = lmo;
    const car = finite(status.car);
    const eto = finite(status.eto);
    const wh = finite(status.wh);
    // car 0 (unknown) and 5 (error) say nothing about the plug; null is a charger booting
    const connected = car === 1 ? false : car === 2 || car === 3 || car === 4 ? true : undefined;
    const arrived = connected === true && this.carConnected === false;
    if (connected !== undefined) this.carConnected = connected;
    if (eto === undefined) return wh;
    if (connected === false) this.etoWithoutCar = eto;
    if (arrived) this.sessionStartEto = Math.max(eto - (wh ?? 0), this.etoWithoutCar ?? 0);
    else if (this.sessionStartEto === undefined || eto < this.sessionStartEto) {
      if (connected !== true) return wh;
      this.sessionStartEto = eto - (wh ?? 0);
    }
    return Math.max(0, eto - this.sessionStartEto);
  }

  /** The logic mode a departure plan ended with `none` returns to. */
  logicModeAfterPlan(fallback: number): number {
    return this.logicModeBeforePlan ?? fallback;
  }
}
