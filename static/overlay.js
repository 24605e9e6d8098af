// podwall: the overlay (live usage, links, the clusters bar) is the ES module
// /static/wall/overlay.mjs, loaded by the page with <script type="module">. This classic
// script is the entry the page had before, kept for anything that still loads
// /static/overlay.js: it starts the same module, which runs once however often it is
// imported.
"use strict";
import("/static/wall/overlay.mjs");
