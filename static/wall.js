// podwall: the page's script is the ES module /static/wall/main.mjs and the modules it
// imports (docs/ui.md, "The page's script"); the page loads it with
// <script type="module">. This classic script is the entry the page had before, kept for
// anything that still loads /static/wall.js: it starts the same module, which runs once
// however often it is imported (on the page itself, where tests pin this tag too, it
// does nothing more). A browser without EventSource could not keep the wall live: it
// keeps the server-rendered wall as it was, as with JavaScript off.
"use strict";
if ("EventSource" in window) import("/static/wall/main.mjs");
