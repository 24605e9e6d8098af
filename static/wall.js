// podwall: the entry of the page's script. The script is a set of ES modules in
// /static/wall/ (docs/ui.md, "The page's script"), preloaded by the page; this classic,
// deferred script (the URL pages and tools have always loaded) starts them. A browser
// without EventSource could not keep the wall live: it keeps the server-rendered wall as
// it was, as with JavaScript off.
"use strict";
if ("EventSource" in window) import("/static/wall/main.mjs");
