// podwall overlay: live usage beside requests, click-through links and the clusters bar,
// drawn over the wall that main.mjs keeps live. Reads the data-* attributes the server
// puts on #wall-root (usage-interval-ms, pod-links, node-links, clusters); without them
// it does nothing.

import { showUsage } from "./usage.mjs";
import { openLinks } from "./links.mjs";
import { showClusters } from "./cluster-nav.mjs";

const root = document.getElementById("wall-root");

if (root && document.getElementById("wall") && !root.hasAttribute("data-error")) {
  // In this order: the pod details show the usage row, then the link row.
  showUsage();
  openLinks();
  showClusters();
}
