"""The browser playground (`cnnspec playground build`): cnnspec running in the page under
Pyodide, in a Web Worker. docs/playground.md describes the site, the `#src=` link codec and
how the site is built; session.py is the Python the page runs, static/ the page itself."""
