// podwall: the overview of several clusters (templates/clusters.html) shows one clock for
// all its walls; the walls in its frames hide their own (docs/ui.md).

import { showTime } from "./wall/clock.mjs";

function tick() {
  showTime(new Date());
}
tick();
setInterval(tick, 1000);
