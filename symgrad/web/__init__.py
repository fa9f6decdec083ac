"""``symgrad serve``: a web page where students check gradient formulas.

:mod:`.catalog` lists the specs offered and describes one (network and
questions); :mod:`.server` is the HTTP server (standard library only) with its
limits; the page is ``templates/web/page.html.j2`` with ``static/app.js``,
``static/app.css`` and KaTeX, all shipped inside the wheel.
"""
