// podwall: the entry of the overlay (live usage, links, the clusters bar), the ES module
// /static/wall/overlay.mjs, preloaded by the page; this classic, deferred script (the URL
// pages have always loaded) starts it.
"use strict";
import("/static/wall/overlay.mjs");
